"""Cancelling a run: the block in flight dies with its worker, model calls are abandoned, the caller
gets a partial result (when it asked for one), and the session answers the next question."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from reporlm.engine.options import EngineOptions
from reporlm.engine.rlm import Models
from reporlm.engine.session import Session
from reporlm.engine.trace import Event
from reporlm.llm.scripted import ScriptedClient
from reporlm.sandbox import SandboxLimits
from reporlm.workspace import Repo


def repl(code: str) -> str:
    return f"```repl\n{code}\n```"


def descendants() -> set[int]:
    """Live processes under this test process."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [os.getpid()]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def session_for(repo: Path, root: ScriptedClient, sub: ScriptedClient | None = None) -> Session:
    models = Models(root=root, root_model="scripted", sub=sub or root, sub_model="scripted-sub")
    options = EngineOptions(sandbox=SandboxLimits(wall_seconds=300, cpu_seconds=300))
    return Session(Repo(repo), models, options)


async def started(events: list[Event], kind: str) -> None:
    for _ in range(3000):
        if any(e["kind"] == kind for e in events):
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"no {kind} event")


async def test_cancel_kills_the_block_and_the_next_question_gets_a_fresh_worker(small_repo: Path) -> None:
    root = ScriptedClient(
        [
            repl("kept = 1\nn = len(repo.files())\nimport time\ntime.sleep(300)"),
            repl("print('kept' in globals(), len(repo.files()))"),
            "FINAL(Five files, e.g. shop/retry.py:3)",
        ]
    )
    before = descendants()
    async with session_for(small_repo, root) as session:
        events: list[Event] = []
        task = asyncio.create_task(session.ask("q", listeners=[events.append], partial_on_cancel=True))
        await started(events, "code")
        workers = descendants() - before
        assert workers, "a sandbox worker runs the block"
        task.cancel()
        result = await task
        assert result.partial and result.reason == "cancelled" and result.iterations == 1
        assert result.answer.startswith("_No final answer: the run stopped (cancelled)")
        assert [e["kind"] for e in events][-2:] == ["final", "run_end"]
        assert not task.cancelled() and task.cancelling() == 0
        assert not (descendants() & workers), "the worker and the block are gone"

        later: list[Event] = []
        again = await session.ask("and now?", listeners=[later.append])
        assert again.answer == "Five files, e.g. shop/retry.py:3" and not again.partial
        output = next(e for e in later if e["kind"] == "output")
        assert output["preview"] == "False 5" and output["reset"] is True, "a fresh worker, state gone"
    assert descendants() == before


async def test_without_partial_on_cancel_the_cancellation_propagates(small_repo: Path) -> None:
    root = ScriptedClient([repl("n = len(repo.files())\nimport time\ntime.sleep(300)")])
    async with session_for(small_repo, root) as session:
        events: list[Event] = []
        task = asyncio.create_task(session.ask("q", listeners=[events.append]))
        await started(events, "code")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert events[-1]["kind"] == "error" and events[-1]["message"] == "cancelled"


async def test_cancel_abandons_model_calls_in_flight(small_repo: Path) -> None:
    # The root model answers at once; the reader it calls from the code never would.
    sub = ScriptedClient(responder=lambda messages: "never seen", latency=600)
    root = ScriptedClient([repl("print(llm_query_batched(['a', 'b', 'c']))")])
    async with session_for(small_repo, root, sub) as session:
        events: list[Event] = []
        task = asyncio.create_task(session.ask("q", listeners=[events.append], partial_on_cancel=True))
        for _ in range(3000):
            if len(sub.calls) == 3:
                break
            await asyncio.sleep(0.01)
        assert len(sub.calls) == 3, "three sub-calls in flight"
        task.cancel()
        result = await task
        assert result.partial and result.reason == "cancelled"
        assert not [e for e in events if e["kind"] == "subcall_end"]
        assert result.sub_usage.output_tokens == 0
