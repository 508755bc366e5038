"""OpenAIClient through the real SDK against a local fake of the chat-completions API."""

from __future__ import annotations

import traceback

import pytest

from reporlm.llm.base import Message, ProviderError
from reporlm.llm.openai_client import OpenAIClient

KEY = "sk-proj-test-0123456789abcdefSECRET"
RETRY_NOW = {"retry-after": "0", "retry-after-ms": "1"}

CONVERSATION = [
    Message("system", "You are a careful code reader."),
    Message("user", "Where is main defined?"),
    Message("assistant", "```repl\nprint(repo.grep('def main'))\n```"),
    Message("user", "Output: src/app.py:12"),
]


def chat_body(text: str = "In src/app.py:12.", model: str = "gpt-4o-mini", usage: dict | None = None) -> dict:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def error_body(message: str, kind: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": kind, "code": None, "param": None}}


def client_for(fake_api, **kwargs) -> OpenAIClient:
    kwargs.setdefault("max_retries", 2)
    kwargs.setdefault("api_key", KEY)
    return OpenAIClient(base_url=f"{fake_api.url}/v1", timeout=10.0, **kwargs)


async def test_reply_usage_cost_and_request_body(fake_api) -> None:
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 20,
        "total_tokens": 1020,
        "prompt_tokens_details": {"cached_tokens": 600},
    }
    fake_api.queue(200, chat_body(usage=usage))
    client = client_for(fake_api)
    try:
        completion = await client.complete(CONVERSATION, model="gpt-4o-mini", max_tokens=300)
    finally:
        await client.aclose()

    assert completion.text == "In src/app.py:12."
    assert completion.stop_reason == "stop"
    u = completion.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (1000, 20, 600, 0)
    assert u.cost_usd == pytest.approx((400 * 0.15 + 600 * 0.075 + 20 * 0.60) / 1_000_000)

    [request] = fake_api.received
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.body
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [{"role": m.role, "content": m.content} for m in CONVERSATION]
    assert body["max_tokens"] == 300
    assert body["temperature"] == 0.0


async def test_missing_usage_counts_as_zero_and_local_models_are_free(fake_api, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fake_api.queue(200, chat_body("hi", model="qwen2.5-coder:7b"))
    client = client_for(fake_api, api_key=None)  # a local server needs no key
    try:
        completion = await client.complete([Message("user", "hi")], model="qwen2.5-coder:7b", max_tokens=8)
    finally:
        await client.aclose()
    assert completion.text == "hi"
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (0, 0)
    assert completion.usage.cost_usd == 0.0  # unknown model, but on this machine
    assert fake_api.received[0].headers["authorization"] == "Bearer not-needed"


async def test_rate_limit_is_retried_by_the_sdk(fake_api) -> None:
    fake_api.queue(429, error_body("Rate limit reached", "requests"), RETRY_NOW)
    fake_api.queue(200, chat_body("ok"))
    client = client_for(fake_api)
    try:
        completion = await client.complete(CONVERSATION, model="gpt-4o-mini", max_tokens=16)
    finally:
        await client.aclose()
    assert completion.text == "ok"
    assert len(fake_api.received) == 2
    assert fake_api.received[1].headers["x-stainless-retry-count"] == "1"


async def test_persistent_overload_becomes_a_retryable_provider_error(fake_api) -> None:
    fake_api.always(503, error_body("The engine is currently overloaded", "server_error"), RETRY_NOW)
    client = client_for(fake_api, max_retries=2)
    try:
        with pytest.raises(ProviderError) as info:
            await client.complete(CONVERSATION, model="gpt-4o-mini", max_tokens=16)
    finally:
        await client.aclose()
    assert info.value.status == 503
    assert info.value.retryable
    assert "overloaded" in str(info.value)
    assert len(fake_api.received) == 3


async def test_auth_failure_never_reveals_the_key(fake_api) -> None:
    fake_api.always(
        401,
        lambda req: error_body(
            f"Incorrect API key provided: {req.headers['authorization']}", "invalid_api_key"
        ),
    )
    client = client_for(fake_api)
    try:
        with pytest.raises(ProviderError) as info:
            await client.complete(CONVERSATION, model="gpt-4o-mini", max_tokens=16)
    finally:
        await client.aclose()
    err = info.value
    assert err.status == 401 and not err.retryable
    assert "Incorrect API key" in str(err)
    assert KEY not in str(err)
    assert KEY not in "".join(traceback.format_exception(err))
    assert len(fake_api.received) == 1


async def test_environment_supplies_key_and_base_url(fake_api, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{fake_api.url}/v1")
    fake_api.queue(200, chat_body("from env"))
    client = OpenAIClient(max_retries=0)
    try:
        completion = await client.complete([Message("user", "hi")], model="gpt-4.1-mini", max_tokens=8)
    finally:
        await client.aclose()
    assert completion.text == "from env"
    assert fake_api.received[0].headers["authorization"] == f"Bearer {KEY}"


async def test_unreachable_server_is_a_retryable_provider_error(unused_tcp_port) -> None:
    client = OpenAIClient(api_key=KEY, base_url=f"http://127.0.0.1:{unused_tcp_port}/v1", max_retries=0)
    try:
        with pytest.raises(ProviderError) as info:
            await client.complete([Message("user", "hi")], model="gpt-4o", max_tokens=8)
    finally:
        await client.aclose()
    assert info.value.retryable and info.value.status is None


def test_official_reasoning_models_get_their_own_parameters() -> None:
    client = OpenAIClient(api_key=KEY, base_url="https://api.openai.com/v1")
    gpt5 = client.request_params([Message("user", "hi")], "gpt-5-mini", 100, 0.0)
    assert gpt5["max_completion_tokens"] == 100
    assert "max_tokens" not in gpt5 and "temperature" not in gpt5
    gpt4 = client.request_params([Message("user", "hi")], "gpt-4.1", 100, 0.0)
    assert gpt4["max_completion_tokens"] == 100 and gpt4["temperature"] == 0.0


def test_the_official_endpoint_needs_a_key(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        OpenAIClient()


# Replies a proxy, a half-compatible server or a bug can send with status 200: the SDK validates
# none of them, and each must become a ProviderError that says what was wrong.
def choice(message: object) -> dict:
    return {**chat_body(), "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


MALFORMED = {
    "a body that is not JSON": (b"not json {", {}, "the reply is not valid JSON (JSONDecodeError"),
    "an empty body": (b"", {}, "the reply is not valid JSON"),
    "bytes that are not UTF-8": (b'"\xff\xfe"', {}, "the reply is not valid JSON (UnicodeDecodeError"),
    "an HTML page": (
        b"<html>bad gateway</html>",
        {"content-type": "text/html"},
        "a '<html>bad gateway</html>' body",
    ),
    "no choices": (
        {k: v for k, v in chat_body().items() if k != "choices"},
        {},
        "the server returned no choices",
    ),
    "choices a string": ({**chat_body(), "choices": "x"}, {}, "choices is not a list"),
    "a choice without message": (
        {**chat_body(), "choices": [{"index": 0}]},
        {},
        "the first choice has no message",
    ),
    "message null": (choice(None), {}, "the first choice has no message"),
    "content a number": (
        choice({"role": "assistant", "content": 5}),
        {},
        "the message content is 5, not text",
    ),
    "content an object": (choice({"role": "assistant", "content": {"a": 1}}), {}, "not text"),
    "token counts that are text": (
        chat_body(usage={"prompt_tokens": "x", "completion_tokens": 1}),
        {},
        "usage.prompt_tokens is 'x', not a token count",
    ),
    "negative token counts": (chat_body(usage={"prompt_tokens": -3, "completion_tokens": 1}), {}, "is -3"),
}


@pytest.mark.parametrize("shape", list(MALFORMED))
async def test_a_malformed_reply_is_a_clear_provider_error(fake_api, shape: str) -> None:
    body, headers, expected = MALFORMED[shape]
    fake_api.queue(200, body, headers)
    client = client_for(fake_api)
    try:
        with pytest.raises(ProviderError) as info:
            await client.complete(CONVERSATION, model="gpt-4o-mini", max_tokens=16)
    finally:
        await client.aclose()
    assert str(info.value).startswith("openai: ") and expected in str(info.value)
    error = info.value  # no SDK or parser traceback chained to it
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


async def test_content_in_text_parts_and_a_refusal_without_content_are_read(fake_api) -> None:
    fake_api.queue(
        200,
        choice(
            {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
        ),
    )
    fake_api.queue(200, choice({"role": "assistant", "content": None, "refusal": "no"}))
    client = client_for(fake_api)
    try:
        parts = await client.complete(CONVERSATION, model="gpt-4o-mini", max_tokens=16)
        refusal = await client.complete(CONVERSATION, model="gpt-4o-mini", max_tokens=16)
    finally:
        await client.aclose()
    assert parts.text == "ab" and refusal.text == ""
