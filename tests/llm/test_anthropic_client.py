"""AnthropicClient through the real SDK against a local fake of the Messages API.

What every hosted client does alike (retries, errors, malformed replies) is in test_hosted_clients.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hosted_cases import ANTHROPIC, ANTHROPIC_KEY, CONVERSATION, complete, message_body

from fake_api import FakeAPI
from reporlm.llm.anthropic_client import AnthropicClient, build_request
from reporlm.llm.base import Message, ProviderError


def test_build_request_marks_the_stable_prefix_for_caching() -> None:
    system, turns = build_request(CONVERSATION)
    assert system == [
        {"type": "text", "text": "You are a careful code reader.", "cache_control": {"type": "ephemeral"}}
    ]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert all("cache_control" not in t["content"][0] for t in turns[:-1])
    assert turns[-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}


async def test_reply_usage_cost_and_request_body(fake_api: FakeAPI) -> None:
    fake_api.queue(200, message_body(cache_creation_input_tokens=100, cache_read_input_tokens=1000))
    completion = await complete(
        ANTHROPIC.client(fake_api), model="claude-sonnet-4-6-20260217", max_tokens=256
    )

    assert completion.text == "It is in src/app.py:12."
    assert completion.stop_reason == "end_turn"
    usage = completion.usage
    assert (usage.input_tokens, usage.output_tokens) == (1110, 5)
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (1000, 100)
    expected = (10 * 3.0 + 100 * 3.75 + 1000 * 0.30 + 5 * 15.0) / 1_000_000
    assert usage.cost_usd == pytest.approx(expected)

    [request] = fake_api.received
    assert request.path == "/v1/messages"
    assert request.headers["authorization"] == f"Bearer {ANTHROPIC_KEY}"
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


async def test_unknown_model_has_unknown_cost(fake_api: FakeAPI) -> None:
    fake_api.queue(200, message_body())
    completion = await complete(ANTHROPIC.client(fake_api), model="claude-future-9")
    assert completion.usage.cost_usd is None


async def test_missing_credentials_is_a_clear_provider_error(
    fake_api: FakeAPI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE", "ANTHROPIC_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no credentials profile on disk either
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    client = AnthropicClient(base_url=fake_api.url, max_retries=0)
    with pytest.raises(ProviderError, match="ANTHROPIC_API_KEY"):
        await complete(client, [Message("user", "hi")], model="claude-haiku-4-5", max_tokens=8)
    assert fake_api.received == []


def test_missing_credentials_profile_is_a_clear_provider_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path))  # names a config dir without a profile
    with pytest.raises(ProviderError, match="ANTHROPIC_API_KEY"):
        AnthropicClient(max_retries=0)


async def test_a_reply_without_usage_or_text_blocks_is_still_an_answer(fake_api: FakeAPI) -> None:
    reply = {k: v for k, v in message_body().items() if k != "usage"}
    reply["content"] = [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "ok"}]
    fake_api.queue(200, reply)
    completion = await complete(ANTHROPIC.client(fake_api), model="claude-haiku-4-5")
    assert completion.text == "ok" and completion.usage.input_tokens == 0
