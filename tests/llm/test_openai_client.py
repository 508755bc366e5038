"""OpenAIClient through the real SDK against a local fake of the chat-completions API.

What every hosted client does alike (retries, errors, malformed replies) is in test_hosted_clients.py.
"""

from __future__ import annotations

import pytest
from hosted_cases import CONVERSATION, OPENAI, OPENAI_KEY, chat_body, chat_choice, complete

from fake_api import FakeAPI
from reporlm.llm.base import Message, ProviderError
from reporlm.llm.openai_client import OpenAIClient


async def test_reply_usage_cost_and_request_body(fake_api: FakeAPI) -> None:
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 20,
        "total_tokens": 1020,
        "prompt_tokens_details": {"cached_tokens": 600},
    }
    fake_api.queue(200, chat_body(usage=usage))
    completion = await complete(OPENAI.client(fake_api), model="gpt-4o-mini", max_tokens=300)

    assert completion.text == "In src/app.py:12."
    assert completion.stop_reason == "stop"
    u = completion.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (1000, 20, 600, 0)
    assert u.cost_usd == pytest.approx((400 * 0.15 + 600 * 0.075 + 20 * 0.60) / 1_000_000)

    [request] = fake_api.received
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    body = request.body
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [{"role": m.role, "content": m.content} for m in CONVERSATION]
    assert body["max_tokens"] == 300
    assert body["temperature"] == 0.0


async def test_missing_usage_counts_as_zero_and_local_models_are_free(
    fake_api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fake_api.queue(200, chat_body("hi", model="qwen2.5-coder:7b"))
    client = OPENAI.client(fake_api, api_key=None)  # a local server needs no key
    completion = await complete(client, [Message("user", "hi")], model="qwen2.5-coder:7b", max_tokens=8)
    assert completion.text == "hi"
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (0, 0)
    assert completion.usage.cost_usd == 0.0  # unknown model, but on this machine
    assert fake_api.received[0].headers["authorization"] == "Bearer not-needed"


def test_official_reasoning_models_get_their_own_parameters() -> None:
    client = OpenAIClient(api_key=OPENAI_KEY, base_url="https://api.openai.com/v1")
    gpt5 = client.request_params([Message("user", "hi")], "gpt-5-mini", 100, 0.0)
    assert gpt5["max_completion_tokens"] == 100
    assert "max_tokens" not in gpt5 and "temperature" not in gpt5
    gpt4 = client.request_params([Message("user", "hi")], "gpt-4.1", 100, 0.0)
    assert gpt4["max_completion_tokens"] == 100 and gpt4["temperature"] == 0.0


def test_the_official_endpoint_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        OpenAIClient()


async def test_content_in_text_parts_and_a_refusal_without_content_are_read(fake_api: FakeAPI) -> None:
    fake_api.queue(
        200,
        chat_choice(
            {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
        ),
    )
    fake_api.queue(200, chat_choice({"role": "assistant", "content": None, "refusal": "no"}))
    client = OPENAI.client(fake_api)
    try:
        parts = await client.complete(CONVERSATION, model="gpt-4o-mini", max_tokens=16)
        refusal = await client.complete(CONVERSATION, model="gpt-4o-mini", max_tokens=16)
    finally:
        await client.aclose()
    assert parts.text == "ab" and refusal.text == ""
