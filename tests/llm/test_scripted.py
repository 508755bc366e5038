"""The scripted client that the engine's tests and benchmarks drive the loop with."""

from __future__ import annotations

import asyncio
import time

import pytest

from reporlm.llm.base import Message, ModelClient, ProviderError
from reporlm.llm.scripted import ScriptedClient, ScriptExhausted

HELLO = [Message("system", "sys"), Message("user", "hello there")]


async def test_replays_strings_exceptions_and_callables_in_order() -> None:
    client = ScriptedClient(
        [
            "first",
            ProviderError("overloaded", status=529, retryable=True),
            lambda msgs: f"echo {msgs[-1].content}",
        ]
    )
    assert isinstance(client, ModelClient)
    assert (await client.complete(HELLO, model="m", max_tokens=10)).text == "first"
    with pytest.raises(ProviderError) as info:
        await client.complete(HELLO, model="m", max_tokens=10)
    assert info.value.status == 529
    assert (await client.complete(HELLO, model="m", max_tokens=10)).text == "echo hello there"
    assert client.remaining == 0
    with pytest.raises(ScriptExhausted, match="no reply left"):
        await client.complete(HELLO, model="m", max_tokens=10)


async def test_records_every_call() -> None:
    client = ScriptedClient(["a", "b"])
    await client.complete(HELLO, model="root", max_tokens=100)
    await client.complete(HELLO[1:], model="sub", max_tokens=5, temperature=0.5)
    assert [(c.model, c.max_tokens, c.temperature) for c in client.calls] == [
        ("root", 100, 0.0),
        ("sub", 5, 0.5),
    ]
    assert client.calls[0].messages == tuple(HELLO)
    assert client.calls[1].messages == (HELLO[1],)


async def test_responder_answers_after_the_list_or_alone() -> None:
    client = ScriptedClient(["scripted"], responder=lambda msgs: f"{len(msgs)} messages")
    assert (await client.complete(HELLO, model="m", max_tokens=1)).text == "scripted"
    assert (await client.complete(HELLO, model="m", max_tokens=1)).text == "2 messages"
    alone = ScriptedClient(responder=lambda msgs: "always")
    assert [(await alone.complete(HELLO, model="m", max_tokens=1)).text for _ in range(3)] == ["always"] * 3


async def test_usage_is_about_four_chars_per_token_and_free() -> None:
    client = ScriptedClient(["x" * 40])
    completion = await client.complete([Message("user", "y" * 400)], model="m", max_tokens=100)
    assert completion.usage.input_tokens == 100
    assert completion.usage.output_tokens == 10
    assert completion.usage.cost_usd == 0.0


async def test_latency_does_not_block_concurrent_calls() -> None:
    client = ScriptedClient(responder=lambda msgs: msgs[-1].content, latency=0.2)
    started = time.perf_counter()
    replies = await asyncio.gather(
        *(client.complete([Message("user", str(i))], model="m", max_tokens=5) for i in range(5))
    )
    elapsed = time.perf_counter() - started
    assert [r.text for r in replies] == ["0", "1", "2", "3", "4"]
    assert 0.2 <= elapsed < 0.6  # overlapped, not 5 x 0.2 s


async def test_aclose_marks_the_client_closed() -> None:
    client = ScriptedClient(provider="fake-anthropic")
    assert client.provider == "fake-anthropic"
    await client.aclose()
    assert client.closed
