"""AnthropicClient through the real SDK against a local fake of the Messages API."""

from __future__ import annotations

import traceback

import pytest

from reporlm.llm.anthropic_client import AnthropicClient, build_request
from reporlm.llm.base import Message, ProviderError

KEY = "sk-ant-test-0123456789abcdefSECRET"
# `retry-after: 0` alone falls back to the SDK's half-second back-off; the ms header retries at once.
RETRY_NOW = {"retry-after": "0", "retry-after-ms": "1"}

CONVERSATION = [
    Message("system", "You are a careful code reader."),
    Message("user", "Where is main defined?"),
    Message("assistant", "```repl\nprint(repo.grep('def main'))\n```"),
    Message("user", "Output: src/app.py:12"),
]


def message_body(text: str = "It is in src/app.py:12.", **usage: int) -> dict:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6-20260217",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5, **usage},
    }


def error_body(kind: str, message: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}}


def client_for(fake_api, **kwargs) -> AnthropicClient:
    kwargs.setdefault("max_retries", 2)
    return AnthropicClient(api_key=KEY, base_url=fake_api.url, timeout=10.0, **kwargs)


def test_build_request_marks_the_stable_prefix_for_caching() -> None:
    system, turns = build_request(CONVERSATION)
    assert system == [
        {"type": "text", "text": "You are a careful code reader.", "cache_control": {"type": "ephemeral"}}
    ]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert all("cache_control" not in t["content"][0] for t in turns[:-1])
    assert turns[-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}


async def test_reply_usage_cost_and_request_body(fake_api) -> None:
    fake_api.queue(200, message_body(cache_creation_input_tokens=100, cache_read_input_tokens=1000))
    client = client_for(fake_api)
    try:
        completion = await client.complete(CONVERSATION, model="claude-sonnet-4-6-20260217", max_tokens=256)
    finally:
        await client.aclose()

    assert completion.text == "It is in src/app.py:12."
    assert completion.stop_reason == "end_turn"
    usage = completion.usage
    assert (usage.input_tokens, usage.output_tokens) == (1110, 5)
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (1000, 100)
    expected = (10 * 3.0 + 100 * 3.75 + 1000 * 0.30 + 5 * 15.0) / 1_000_000
    assert usage.cost_usd == pytest.approx(expected)

    [request] = fake_api.received
    assert request.path == "/v1/messages"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.body
    assert body["model"] == "claude-sonnet-4-6-20260217"
    assert body["max_tokens"] == 256
    assert body["system"] == [
        {"type": "text", "text": "You are a careful code reader.", "cache_control": {"type": "ephemeral"}}
    ]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"][0]["text"] == "Where is main defined?"
    assert body["messages"][-1]["content"][-1] == {
        "type": "text",
        "text": "Output: src/app.py:12",
        "cache_control": {"type": "ephemeral"},
    }


async def test_unknown_model_has_unknown_cost(fake_api) -> None:
    fake_api.queue(200, message_body())
    client = client_for(fake_api)
    try:
        completion = await client.complete(CONVERSATION, model="claude-future-9", max_tokens=16)
    finally:
        await client.aclose()
    assert completion.usage.cost_usd is None


async def test_rate_limit_is_retried_by_the_sdk(fake_api) -> None:
    fake_api.queue(429, error_body("rate_limit_error", "slow down"), RETRY_NOW)
    fake_api.queue(200, message_body("ok"))
    client = client_for(fake_api)
    try:
        completion = await client.complete(CONVERSATION, model="claude-haiku-4-5", max_tokens=16)
    finally:
        await client.aclose()
    assert completion.text == "ok"
    assert len(fake_api.received) == 2
    assert fake_api.received[1].headers["x-stainless-retry-count"] == "1"


async def test_persistent_overload_becomes_a_retryable_provider_error(fake_api) -> None:
    fake_api.always(529, error_body("overloaded_error", "Overloaded"), RETRY_NOW)
    client = client_for(fake_api, max_retries=2)
    try:
        with pytest.raises(ProviderError) as info:
            await client.complete(CONVERSATION, model="claude-haiku-4-5", max_tokens=16)
    finally:
        await client.aclose()
    assert info.value.status == 529
    assert info.value.retryable
    assert "overloaded" in str(info.value).lower()
    assert len(fake_api.received) == 3  # the first try and two SDK retries


async def test_auth_failure_never_reveals_the_key(fake_api) -> None:
    # A hostile or buggy proxy that echoes the credential back in its error text.
    fake_api.always(
        401,
        lambda req: error_body("authentication_error", f"invalid credential: {req.headers['authorization']}"),
    )
    client = client_for(fake_api)
    try:
        with pytest.raises(ProviderError) as info:
            await client.complete(CONVERSATION, model="claude-haiku-4-5", max_tokens=16)
    finally:
        await client.aclose()
    err = info.value
    assert err.status == 401
    assert not err.retryable
    assert "authentication_error" in str(err)
    assert KEY not in str(err)
    assert KEY not in "".join(traceback.format_exception(err))
    assert len(fake_api.received) == 1  # a 401 is not retried


async def test_environment_supplies_key_and_base_url(fake_api, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.url)
    fake_api.queue(200, message_body("from env"))
    client = AnthropicClient(max_retries=0)
    try:
        completion = await client.complete([Message("user", "hi")], model="claude-haiku-4-5", max_tokens=8)
    finally:
        await client.aclose()
    assert completion.text == "from env"
    assert fake_api.received[0].headers["authorization"] == f"Bearer {KEY}"
    assert "system" not in fake_api.received[0].body


async def test_missing_credentials_is_a_clear_provider_error(fake_api, monkeypatch, tmp_path) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE", "ANTHROPIC_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no credentials profile on disk either
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    client = AnthropicClient(base_url=fake_api.url, max_retries=0)
    try:
        with pytest.raises(ProviderError, match="ANTHROPIC_API_KEY"):
            await client.complete([Message("user", "hi")], model="claude-haiku-4-5", max_tokens=8)
    finally:
        await client.aclose()
    assert fake_api.received == []


def test_missing_credentials_profile_is_a_clear_provider_error(monkeypatch, tmp_path) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path))  # names a config dir without a profile
    with pytest.raises(ProviderError, match="ANTHROPIC_API_KEY"):
        AnthropicClient(max_retries=0)


async def test_unreachable_server_is_a_retryable_provider_error(unused_tcp_port) -> None:
    client = AnthropicClient(api_key=KEY, base_url=f"http://127.0.0.1:{unused_tcp_port}", max_retries=0)
    try:
        with pytest.raises(ProviderError) as info:
            await client.complete([Message("user", "hi")], model="claude-haiku-4-5", max_tokens=8)
    finally:
        await client.aclose()
    assert info.value.retryable
    assert info.value.status is None


# Replies a proxy, a half-compatible server or a bug can send with status 200: the SDK parses none of
# them into a Message, and each must become a ProviderError that says what was wrong.
MALFORMED = {
    "a body that is not JSON": (b"not json {", {}, "the reply is not valid JSON (JSONDecodeError"),
    "an empty body": (b"", {}, "the reply is not valid JSON"),
    "bytes that are not UTF-8": (b'"\xff\xfe"', {}, "the reply is not valid JSON (UnicodeDecodeError"),
    "a 5,000-digit number": (b"1" * 5000, {}, "the reply is not valid JSON (ValueError"),
    "an HTML page": (
        b"<html>bad gateway</html>",
        {"content-type": "text/html"},
        "a '<html>bad gateway</html>' body",
    ),
    "no content": ({k: v for k, v in message_body().items() if k != "content"}, {}, "no content list"),
    "content null": ({**message_body(), "content": None}, {}, "no content list"),
    "content a string": ({**message_body(), "content": "hi"}, {}, "no content list"),
    "a text block without text": (
        {**message_body(), "content": [{"type": "text"}]},
        {},
        "a text block without text",
    ),
    "text that is a number": (
        {**message_body(), "content": [{"type": "text", "text": 5}]},
        {},
        "without text",
    ),
    "a JSON array": ([1, 2], {}, "no content list"),
    "null": (None, {}, "no content list"),
    "token counts that are text": (
        {**message_body(), "usage": {"input_tokens": "many", "output_tokens": 1}},
        {},
        "usage.input_tokens is 'many', not a token count",
    ),
}


@pytest.mark.parametrize("shape", list(MALFORMED))
async def test_a_malformed_reply_is_a_clear_provider_error(fake_api, shape: str) -> None:
    body, headers, expected = MALFORMED[shape]
    fake_api.queue(200, body, headers)
    client = client_for(fake_api)
    try:
        with pytest.raises(ProviderError) as info:
            await client.complete(CONVERSATION, model="claude-haiku-4-5", max_tokens=16)
    finally:
        await client.aclose()
    assert str(info.value).startswith("anthropic: ") and expected in str(info.value)
    error = info.value  # no SDK or parser traceback chained to it
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


async def test_a_reply_without_usage_or_text_blocks_is_still_an_answer(fake_api) -> None:
    reply = {k: v for k, v in message_body().items() if k != "usage"}
    reply["content"] = [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "ok"}]
    fake_api.queue(200, reply)
    client = client_for(fake_api)
    try:
        completion = await client.complete(CONVERSATION, model="claude-haiku-4-5", max_tokens=16)
    finally:
        await client.aclose()
    assert completion.text == "ok" and completion.usage.input_tokens == 0
