"""Budgets bound everything the host does for a run: repo calls in a loop, a provider that never
answers, a flood of citations, a batch of a million prompts.

The hang tests assert that the run ends within its budget plus a few seconds (OVERSHOOT) and that
the event loop kept turning meanwhile; nothing here checks how fast anything is otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from reporlm.engine.budget import Limits
from reporlm.engine.options import EngineOptions
from reporlm.engine.rlm import Models
from reporlm.engine.session import Session
from reporlm.engine.trace import Event
from reporlm.llm.openai_client import OpenAIClient
from reporlm.llm.scripted import ScriptedClient
from reporlm.sandbox import SandboxLimits
from reporlm.workspace import Repo

OVERSHOOT = 5.0
"""How far past its max_seconds a run may end: the abandoned work, the worker's shutdown, the check."""
HANG_GUARD_SECONDS = 120.0
T = TypeVar("T")


def repl(code: str) -> str:
    return f"```repl\n{code}\n```"


def session_for(
    repo: Path, root: Any, sub: Any = None, *, block_seconds: float = 300, **limits: Any
) -> Session:
    models = Models(root=root, root_model="scripted", sub=sub or root, sub_model="scripted-sub")
    options = EngineOptions(
        limits=replace(Limits(), **limits),
        sandbox=SandboxLimits(wall_seconds=block_seconds, cpu_seconds=300),
        require_evidence=False,
    )
    return Session(Repo(repo), models, options)


class LoopWatch:
    """Ticks on the event loop while a run goes on; `longest` is the longest the loop was deaf."""

    def __init__(self) -> None:
        self.ticks = 0
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopWatch:
        async def tick() -> None:
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.05)
                now = time.monotonic()
                self.longest = max(self.longest, now - last)
                self.ticks += 1
                last = now

        self._task = asyncio.create_task(tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def timed(work: Awaitable[T]) -> tuple[T, float]:
    """The result and the seconds it took; a run that never ends fails the test instead of hanging it."""
    started = time.monotonic()
    result = await asyncio.wait_for(work, HANG_GUARD_SECONDS)
    return result, time.monotonic() - started


async def test_a_loop_of_repo_calls_stops_at_max_seconds(small_repo: Path) -> None:
    # The worker's clock stops while the host greps, so only the run's deadline can end this.
    root = ScriptedClient([repl("while True:\n    repo.grep(r'(.|.)*Q')")])
    async with session_for(small_repo, root, max_seconds=4) as session, LoopWatch() as watch:
        events: list[Event] = []
        result, seconds = await timed(session.ask("q", listeners=[events.append]))
    assert result.partial and result.reason == "wall-clock"
    assert seconds < 4 + OVERSHOOT
    assert watch.ticks > 10 and watch.longest < OVERSHOOT, "the event loop kept answering"
    assert any(e["kind"] == "error" and "wall-clock" in e["message"] for e in events)


async def test_the_repo_calls_of_one_block_share_its_time_limit(small_repo: Path) -> None:
    root = ScriptedClient(
        [
            repl(
                "n = 0\ntry:\n    while True:\n        repo.grep('x')\n        n += 1\n"
                "except TimeoutError as e:\n    print(n > 0, e)"
            ),
            "FINAL(done, see shop/retry.py:3)",
        ]
    )
    async with session_for(small_repo, root, block_seconds=2, max_seconds=120) as session:
        result, seconds = await timed(session.ask("q"))
    assert result.answer.startswith("done") and not result.partial
    output = root.calls[1].messages[-1].content
    # Refused once the time is used up, or stopped by the deadline when a call runs into it.
    assert "True repo.grep" in output
    assert "used up its 2 s time limit" in output or "share its 2 s limit" in output
    assert seconds < 60, "the block ended long before the run's deadline"


async def test_a_root_model_that_never_answers_is_abandoned_at_max_seconds(small_repo: Path) -> None:
    root = ScriptedClient(responder=lambda messages: "never seen", latency=600)
    async with session_for(small_repo, root, max_seconds=3) as session, LoopWatch() as watch:
        result, seconds = await timed(session.ask("q"))
    assert result.partial and result.reason == "wall-clock"
    assert result.answer.startswith("_No final answer: the run stopped (wall-clock)")
    assert seconds < 3 + OVERSHOOT and watch.longest < OVERSHOOT


async def test_a_provider_that_never_answers_is_abandoned_at_max_seconds(
    small_repo: Path, fake_api: Any
) -> None:
    fake_api.hang()
    client = OpenAIClient(api_key="sk-test", base_url=f"{fake_api.url}/v1", max_retries=0)  # 600 s timeout
    async with session_for(small_repo, client, max_seconds=3) as session:
        result, seconds = await timed(session.ask("q"))
    assert len(fake_api.received) == 1, "the request was sent and never answered"
    assert result.partial and result.reason == "wall-clock"
    assert seconds < 3 + OVERSHOOT


async def test_a_sub_call_that_never_answers_is_abandoned_at_max_seconds(small_repo: Path) -> None:
    sub = ScriptedClient(responder=lambda messages: "never seen", latency=600)
    root = ScriptedClient([repl("print(llm_query('summarise'))")])
    async with session_for(small_repo, root, sub, max_seconds=3) as session:
        result, seconds = await timed(session.ask("q"))
    assert result.partial and result.reason == "wall-clock" and len(sub.calls) == 1
    assert seconds < 3 + OVERSHOOT


async def test_a_child_run_stops_at_its_parents_deadline(small_repo: Path) -> None:
    root = ScriptedClient(
        [repl("print(rlm_query('look', scope='shop'))")],
        responder=lambda messages: repl("while True:\n    repo.files()"),
    )
    async with session_for(small_repo, root, max_seconds=4, max_depth=1) as session:
        result, seconds = await timed(session.ask("q"))
    assert result.partial and result.reason == "wall-clock"
    assert seconds < 4 + OVERSHOOT


async def test_a_final_with_300k_bogus_citations_is_checked_off_the_loop_and_capped(small_repo: Path) -> None:
    bogus = " ".join(f"src/missing_{i}.py:{i}" for i in range(300_000))
    root = ScriptedClient([repl(f"answer = 'See shop/retry.py:3. ' + {bogus!r}\nFINAL_VAR('answer')")])
    async with session_for(small_repo, root) as session, LoopWatch() as watch:
        result, _ = await timed(session.ask("q"))
    assert result.answer.startswith("See shop/retry.py:3.")
    assert len(result.citations) == 200
    assert result.citations[0].verified and result.citations[0].label() == "shop/retry.py:3"
    assert not any(c.verified for c in result.citations[1:])
    assert watch.longest < OVERSHOOT, "checking citations did not stop the event loop"


async def test_a_batch_larger_than_the_budget_is_refused_before_anything_is_built(small_repo: Path) -> None:
    sub = ScriptedClient(responder=lambda messages: "answer")
    root = ScriptedClient(
        [
            repl("try:\n    llm_query_batched(['x'] * 1_000_000)\nexcept RuntimeError as e:\n    print(e)"),
            repl(
                "try:\n    llm_query_batched([f'p{i}' for i in range(201)])\n"
                "except RuntimeError as e:\n    print(e)"
            ),
            repl("print(len(llm_query_batched(['same'] * 500)))"),
            "FINAL(done)",
        ]
    )
    async with session_for(small_repo, root, sub, max_sub_calls=200) as session:
        result = await session.ask("q")
    assert result.answer == "done"
    first, second, third = (root.calls[i].messages[-1].content for i in (1, 2, 3))
    assert "llm_query_batched refused: 1,000,000 prompts, at most 1,000 per call" in first
    assert "llm_query_batched refused: 201 new prompts but only 200 sub-calls are left" in second
    assert "500" in third
    assert len(sub.calls) == 1, "the 500 identical prompts cost one call; nothing else was sent"


async def test_llm_query_and_llm_query_batched_raise_runtime_error_alike(small_repo: Path) -> None:
    from reporlm.llm.base import ProviderError

    calls = {"n": 0}

    def flaky(messages: Any) -> str:
        calls["n"] += 1
        if "bad" in messages[-1].content:
            raise ProviderError("overloaded", status=529)
        return "fine"

    sub = ScriptedClient(responder=flaky)
    code = (
        "for call in (lambda: llm_query('bad'), lambda: llm_query_batched(['good', 'bad'])):\n"
        "    try:\n        call()\n    except RuntimeError as e:\n        print(type(e).__name__, e)\n"
        "print(llm_query_batched(['good']))"
    )
    root = ScriptedClient([repl(code), "FINAL(done)"])
    async with session_for(small_repo, root, sub) as session:
        await session.ask("q")
    output = root.calls[1].messages[-1].content
    assert "RuntimeError llm_query failed: overloaded" in output
    assert (
        "RuntimeError llm_query_batched: 1 of 2 distinct prompts failed (prompt 1: llm_query failed" in output
    )
    assert "['fine']" in output
    assert calls["n"] == 3, "the good answer was cached: the retry cost nothing"
