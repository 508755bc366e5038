"""Runs while the protocol goes on: cancellation, concurrency, the busy cap, no process left behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from reporlm.lsp import wire

from .conftest import (
    alive,
    children,
    command,
    descendants,
    events,
    open_repo,
    repl,
    status_when,
    wait_until,
    write_script,
)

SLEEP = repl("import time\nprint('sleeping', flush=True)\ntime.sleep(300)")


async def test_cancel_request_kills_the_block_answers_partially_and_the_session_goes_on(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "script.json",
        conversations=[
            {"match": "slow question", "turns": [SLEEP]},
            {
                "match": "next question",
                "turns": [repl("print(len(repo.files()))"), "FINAL(5: shop/retry.py:3)"],
            },
        ],
    )
    await open_repo(lsp, small_repo, script, block_seconds=600)
    server = lsp._server
    assert server is not None
    request = asyncio.ensure_future(command(lsp, wire.ASK, {"question": "slow question"}, msg_id="slow-1"))
    await wait_until(lambda: events(lsp, "code"), "the block to start")
    workers = await wait_until(lambda: descendants(server.pid), "the sandbox worker")

    lsp.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="slow-1"))
    result = await request
    assert result["partial"] is True and result["reason"] == "cancelled"
    assert result["answer"].startswith("_No final answer: the run stopped (cancelled)")
    assert result["iterations"] == 1 and result["trace_id"]
    assert not [pid for pid in workers if alive(pid)], "the worker running the block is gone"
    assert descendants(server.pid) == set()
    (reports,) = lsp.progress_reports.values()
    assert reports[-1].message == "partial (cancelled)"

    # The same session answers the next question, in a fresh worker.
    again = await command(lsp, wire.ASK, {"question": "next question"})
    assert again["answer"] == "5: shop/retry.py:3" and again["partial"] is False
    assert events(lsp, "output")[-1]["preview"] == "5"
    status = await command(lsp, wire.STATUS)
    assert status["runs"]["active"] == 0


async def test_progress_cancel_abandons_a_model_call_in_flight(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    # Every model call would take ten minutes: only the cancel can end this run.
    script = write_script(tmp_path / "script.json", latency=600, replies=["FINAL(never)"])
    await open_repo(lsp, small_repo, script)
    request = asyncio.ensure_future(command(lsp, wire.ASK, {"question": "q"}))
    await wait_until(lambda: events(lsp, "iteration"), "the first model call")
    token = await wait_until(lambda: next(iter(lsp.progress_reports), None), "the progress token")

    lsp.protocol.notify(
        types.WINDOW_WORK_DONE_PROGRESS_CANCEL, types.WorkDoneProgressCancelParams(token=token)
    )
    result = await request
    assert result["partial"] is True and result["reason"] == "cancelled"
    assert result["usage"]["total"]["output_tokens"] == 0, "the model never answered"
    assert not events(lsp, "model_call")


async def test_two_asks_at_once_each_with_its_own_worker_and_a_busy_error_past_the_cap(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    def turns(name: str, cite: str) -> dict[str, object]:
        code = f"import time\nn = len(repo.files())\ntime.sleep(3)\nprint('{name}')"
        return {"match": f"{name} question", "turns": [repl(code), f"FINAL({name.title()}: {cite})"]}

    script = write_script(
        tmp_path / "script.json",
        conversations=[turns("first", "shop/retry.py:3"), turns("second", "shop/orders.py:4")],
    )
    await open_repo(lsp, small_repo, script, max_runs=2)
    first = asyncio.ensure_future(command(lsp, wire.ASK, {"question": "first question"}))
    second = asyncio.ensure_future(command(lsp, wire.ASK, {"question": "second question"}))
    await wait_until(lambda: len(events(lsp, "code")) == 2, "both blocks to start")
    # Each run has its own sandbox worker: two worker processes under the server.
    assert lsp._server is not None
    assert len(children(lsp._server.pid)) == 2

    # The protocol loop still serves: status, edits, and a clear refusal past the cap.
    status = await command(lsp, wire.STATUS)
    assert status["runs"] == {"active": 2, "max": 2}
    uri = (small_repo / "notes.md").as_uri()
    lsp.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "markdown", 1, "typing while it runs"))
    )
    await status_when(lsp, lambda s: s["open_documents"] == 1)
    with pytest.raises(JsonRpcException) as busy:
        await command(lsp, wire.ASK, {"question": "third question"})
    assert busy.value.code == wire.ErrorCodes.BUSY and "maxRuns" in busy.value.message

    one, two = await first, await second
    assert one["answer"] == "First: shop/retry.py:3" and two["answer"] == "Second: shop/orders.py:4"
    assert one["trace_id"] != two["trace_id"]
    outputs = {e["run"]: e["preview"] for e in events(lsp, "output")}
    assert outputs[one["trace_id"]] == "first" and outputs[two["trace_id"]] == "second"


async def test_shutdown_stops_runs_and_leaves_no_process(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "script.json", conversations=[{"match": "slow", "turns": [SLEEP]}])
    await open_repo(lsp, small_repo, script, block_seconds=600)
    server = lsp._server
    assert server is not None
    request = asyncio.ensure_future(command(lsp, wire.ASK, {"question": "slow"}))
    await wait_until(lambda: events(lsp, "code"), "the block to start")
    tree = await wait_until(lambda: descendants(server.pid), "the sandbox worker")

    await asyncio.wait_for(lsp.shutdown_session(), 30)
    result = await request  # answered before the shutdown was
    assert result["partial"] is True and result["reason"] == "cancelled"
    assert server.returncode == 0
    assert not [pid for pid in tree if alive(pid)]
