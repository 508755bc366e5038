"""The server keeps answering while a run does what model code and clients can make it do: loop
over repo calls, wait on a model that never replies, read an 8 MB unsaved buffer.

Hang tests assert that the run ends within its budget plus a few seconds and that `status`
answers meanwhile; nothing else is timed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

from reporlm.lsp import wire

from .conftest import command, events, open_repo, repl, wait_until, write_script

OVERSHOOT = 5.0
STATUS_SECONDS = 5.0
"""A status asked for while a run works must come back within this (a guard, not a speed check)."""


async def statuses_while(lsp: LanguageClient, request: asyncio.Future[dict]) -> int:
    """Ask for the status again and again until `request` is answered; how many answers came."""
    answered = 0
    while not request.done():
        status = await asyncio.wait_for(command(lsp, wire.STATUS), STATUS_SECONDS)
        assert "runs" in status
        answered += 1
        await asyncio.sleep(0.2)
    return answered


async def stopped_on_time_with_statuses(
    lsp: LanguageClient, max_seconds: float, working: str, what: str
) -> int:
    """Ask with a `max_seconds` budget and, once an event of kind `working` shows the run at the
    hang, ask for the status until the run ends; check it ended on its budget (plus OVERSHOOT) as a
    partial "wall-clock" answer. How many statuses answered meanwhile."""
    started = time.monotonic()
    budget = {"max_seconds": max_seconds}
    request = asyncio.ensure_future(command(lsp, wire.ASK, {"question": "q", "budget": budget}))
    await wait_until(lambda: events(lsp, working), what)
    answered = await statuses_while(lsp, request)
    result = await request
    assert time.monotonic() - started < max_seconds + OVERSHOOT
    assert result["partial"] is True and result["reason"] == "wall-clock"
    return answered


async def test_status_answers_while_a_block_loops_over_slow_patterns_and_the_run_stops_on_time(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "script.json", replies=[repl("while True:\n    repo.grep(r'(.|.)*Q')")])
    await open_repo(lsp, small_repo, script, block_seconds=600)
    answered = await stopped_on_time_with_statuses(lsp, 4, "code", "the block to start")
    assert answered >= 3, "status answered all along"


async def test_status_answers_while_the_model_never_replies_and_the_run_stops_on_time(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "script.json", latency=600, replies=["FINAL(never)"])
    await open_repo(lsp, small_repo, script)
    answered = await stopped_on_time_with_statuses(lsp, 3, "iteration", "the first model call")
    assert answered >= 2


async def test_an_8mb_unsaved_buffer_is_refused_with_a_clear_message(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "script.json",
        replies=[
            repl("try:\n    repo.read('shop/retry.py')\nexcept ValueError as e:\n    print(e)"),
            "FINAL(too large: shop/orders.py:4)",
        ],
    )
    await open_repo(lsp, small_repo, script)
    uri = (small_repo / "shop" / "retry.py").as_uri()
    buffer = "def unsaved():\n    return 1\n" * (8 * 1024 * 1024 // 28)
    lsp.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=buffer)
        )
    )
    status = await asyncio.wait_for(command(lsp, wire.STATUS), STATUS_SECONDS * 2)
    assert status["open_documents"] == 1
    result = await command(lsp, wire.ASK, {"question": "q"})
    assert result["answer"] == "too large: shop/orders.py:4"
    output = events(lsp, "output")[0]["preview"]
    assert "the unsaved editor buffer of shop/retry.py is 8.0 MiB, over the 5.0 MiB read limit" in output
    server = lsp._server
    assert server is not None
    peak_kb = int(
        next(
            line
            for line in Path(f"/proc/{server.pid}/status").read_text().splitlines()
            if line.startswith("VmHWM")
        ).split()[1]
    )
    assert peak_kb < 1024 * 1024, f"the server peaked at {peak_kb // 1024} MB"


async def test_status_answers_while_a_flood_of_citations_is_checked(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    code = (
        "n = len(repo.files())\n"
        "answer = 'shop/retry.py:3 ' + ' '.join(f'src/missing_{i}.py:{i}' for i in range(300_000))"
    )
    script = write_script(tmp_path / "script.json", replies=[repl(f"{code}\nFINAL_VAR('answer')")])
    await open_repo(lsp, small_repo, script)
    request = asyncio.ensure_future(command(lsp, wire.ASK, {"question": "q"}))
    await wait_until(lambda: events(lsp, "code"), "the block to start")
    answered = await statuses_while(lsp, request)
    result = await request
    assert answered >= 1
    assert len(result["citations"]) <= 200 and result["answer"].startswith(
        "shop/retry.py:3 src/missing_0.py:0"
    )
