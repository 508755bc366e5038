"""Language server benchmarks: protocol round trip, start-up, the cost of the LSP path, cancel.

    python -m bench.lsp        (or: python -m bench lsp)

Each figure is measured next to a reference in the same run:
- `reporlm.server.status` round trip over stdio, median of 200; the reference is a bare pygls
  server answering an empty command (the floor of pygls + lsprotocol on this machine).
- server start to `initialize` answered (the repository is listed in the background), median of 5;
  the reference is the same bare pygls server.
- one scripted ask (three turns, grep and read on a 1,000-file repository) through the language
  server, against the same ask on an engine session in this process; both warm, both writing the
  trace file, interleaved, median of 15.
- cancel: from `$/cancelRequest` to the partial answer while a code block sleeps; the reference is
  cancelling the same block on an in-process session.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.engine import make_repo
from bench.figures import Figure, print_table
from reporlm.engine.options import EngineOptions
from reporlm.engine.rlm import Models
from reporlm.engine.session import Session
from reporlm.lsp import wire
from reporlm.lsp.client import HeadlessClient
from reporlm.lsp.script import load_script
from reporlm.workspace import Repo

REFERENCE_SERVER = """
from pygls.lsp.server import LanguageServer

server = LanguageServer("reference", "1")


@server.command("reference.echo")
async def echo(ls, *args):
    return {}


server.start_io()
"""

ASK_TURNS = [
    "```repl\nhits = repo.grep('func_7_3', max_results=5)\nprint(len(hits), hits[0])\n```",
    "```repl\nprint(repo.read('pkg7/mod7.py', 1, 6))\n```",
    "FINAL(`func_7_3` is defined at pkg7/mod7.py:10-11.)",
]
SLEEP_TURNS = ["```repl\nn = len(repo.files())\nimport time\ntime.sleep(300)\n```"]


def write_script(folder: Path) -> Path:
    path = folder / "script.json"
    conversations = [
        {"match": "bench ask", "turns": ASK_TURNS},
        {"match": "bench sleep", "turns": SLEEP_TURNS},
    ]
    path.write_text(json.dumps({"conversations": conversations}), encoding="utf-8")
    return path


CACHE: dict[str, str] = {}
"""Where the servers write their traces: a folder of this run, not the user's cache."""


def server_env() -> dict[str, str]:
    return {**os.environ, **CACHE}


async def started_client(command: list[str], repo: Path, options: dict[str, Any]) -> HeadlessClient:
    client = HeadlessClient()
    await client.start(command, env=server_env())
    await client.open(repo, options)
    return client


async def timed(action: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


async def status_round_trip(repo: Path, script: Path, n: int = 200) -> Figure:
    ours = await started_client(HeadlessClient.server_command(), repo, _options(script))
    reference = await started_client([sys.executable, "-c", REFERENCE_SERVER], repo, {})
    try:
        for _ in range(20):  # warm both up
            await ours.command(wire.STATUS, {})
            await reference.command("reference.echo", {})
        ours_s, ref_s = [], []
        for _ in range(n):
            ours_s.append(await timed(lambda: ours.command(wire.STATUS, {})))
            ref_s.append(await timed(lambda: reference.command("reference.echo", {})))
    finally:
        await ours.close()
        await reference.close()
    ms, ref_ms = statistics.median(ours_s) * 1000, statistics.median(ref_s) * 1000
    return Figure(
        f"reporlm.server.status round trip over stdio, median of {n}",
        f"{ms:.2f} ms",
        "< 5 ms",
        f"bare pygls command {ref_ms:.2f} ms",
        ms / ref_ms,
        ms < 5,
    )


async def start_up(repo: Path, script: Path, n: int = 5) -> Figure:
    async def once(command: list[str], options: dict[str, Any]) -> float:
        client = HeadlessClient()
        started = time.perf_counter()
        await client.start(command, env=server_env())
        await client.open(repo, options)
        seconds = time.perf_counter() - started
        await client.close()
        return seconds

    ours_s, ref_s = [], []
    for _ in range(n):
        ours_s.append(await once(HeadlessClient.server_command(), _options(script)))
        ref_s.append(await once([sys.executable, "-c", REFERENCE_SERVER], {}))
    ours, ref = statistics.median(ours_s), statistics.median(ref_s)
    return Figure(
        f"server start to initialize answered, median of {n}",
        f"{ours:.2f} s",
        "< 1 s",
        f"bare pygls server {ref:.2f} s",
        ours / ref,
        ours < 1.0,
    )


async def lsp_overhead(repo: Path, script: Path, traces: Path, n: int = 15) -> Figure:
    client = await started_client(HeadlessClient.server_command(), repo, _options(script))
    model = load_script(script)
    models = Models(root=model, root_model="scripted", sub=model, sub_model="scripted")
    session = Session(Repo(repo), models, EngineOptions())
    lsp_s, local_s = [], []
    try:
        for i in range(n + 2):  # the first two of each warm up (sandbox worker, caches)
            question = f"bench ask {i}"
            over_lsp = await timed(lambda q=question: client.command(wire.ASK, {"question": q}))
            trace = traces / f"in-process-{i}.jsonl"
            in_process = await timed(lambda q=question, t=trace: session.ask(q, trace_file=t))
            if i >= 2:
                lsp_s.append(over_lsp)
                local_s.append(in_process)
    finally:
        await client.close()
        await session.close()
    ours, ref = statistics.median(lsp_s), statistics.median(local_s)
    overhead = ours / ref - 1
    return Figure(
        f"one scripted ask (3 turns, 1,000 files) over LSP, median of {n}",
        f"{ours * 1000:.0f} ms ({overhead:+.0%})",
        "< 10% over in-process",
        f"engine in-process {ref * 1000:.0f} ms",
        ours / ref,
        overhead < 0.10,
    )


async def cancel_latency(repo: Path, script: Path, n: int = 5) -> Figure:
    client = await started_client(HeadlessClient.server_command(), repo, _options(script, block_seconds=600))
    events: list[dict[str, Any]] = []
    client.on_trace = events.append
    ours_s, ref_s = [], []
    try:
        for i in range(n):
            request_id = client.new_request_id()
            events.clear()
            answer = asyncio.ensure_future(
                client.command(wire.ASK, {"question": f"bench sleep {i}"}, request_id=request_id)
            )
            await _until(lambda: any(e["kind"] == "code" for e in events))
            await asyncio.sleep(0.3)  # the block is asleep in its worker
            started = time.perf_counter()
            client.cancel(request_id)
            result = await answer
            ours_s.append(time.perf_counter() - started)
            assert result["reason"] == "cancelled", result
            ref_s.append(await _cancel_in_process(repo, script, i))
    finally:
        await client.close()
    ours, ref = statistics.median(ours_s), statistics.median(ref_s)
    return Figure(
        f"cancel a sleeping block to partial answer over LSP, median of {n}",
        f"{ours * 1000:.0f} ms",
        "< 1 s",
        f"cancel on an in-process session {ref * 1000:.0f} ms",
        ours / ref,
        ours < 1.0,
    )


async def _cancel_in_process(repo: Path, script: Path, i: int) -> float:
    model = load_script(script)
    models = Models(root=model, root_model="scripted", sub=model, sub_model="scripted")
    events: list[dict[str, Any]] = []
    async with Session(Repo(repo), models, EngineOptions()) as session:
        task = asyncio.create_task(
            session.ask(f"bench sleep {i}", listeners=[events.append], partial_on_cancel=True)
        )
        await _until(lambda: any(e["kind"] == "code" for e in events))
        await asyncio.sleep(0.3)
        started = time.perf_counter()
        task.cancel()
        await task
        return time.perf_counter() - started


async def _until(condition: Callable[[], bool], limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the run never got there")
        await asyncio.sleep(0.005)


def _options(script: Path, **extra: Any) -> dict[str, Any]:
    return {"provider": "scripted", "script": str(script), **extra}


async def run_all() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        repo = make_repo(folder / "repo")
        script = write_script(folder)
        traces = folder / "traces"
        traces.mkdir()
        CACHE["REPORLM_CACHE_DIR"] = str(folder / "cache")
        return [
            await status_round_trip(repo, script),
            await start_up(repo, script),
            await lsp_overhead(repo, script, traces),
            await cancel_latency(repo, script),
        ]


if __name__ == "__main__":
    print_table(asyncio.run(run_all()))
