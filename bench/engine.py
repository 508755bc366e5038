"""Engine benchmarks: concurrent sub-calls, and the engine's own cost per iteration.

    python -m bench.engine

Each figure is printed next to its target and next to a reference measured in the same run:
- llm_query_batched of 64 prompts, 0.5 s latency each, concurrency 16: the reference is the ideal
  (64 / 16 × 0.5 s = 2 s) and plain `asyncio.gather` of the same client calls under a semaphore.
- overhead per iteration on a 1,000-file repository with a model that answers instantly: sandbox
  exec + IPC + bookkeeping; the reference is `exec` of the same code in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.figures import Figure, print_table
from reporlm.engine.budget import Limits
from reporlm.engine.options import EngineOptions
from reporlm.engine.rlm import Models
from reporlm.engine.session import Session
from reporlm.engine.trace import Event
from reporlm.llm.base import Message
from reporlm.llm.scripted import ScriptedClient
from reporlm.workspace import Repo


def make_repo(root: Path, n_files: int = 1000) -> Path:
    for i in range(n_files):
        pkg = root / f"pkg{i % 20}"
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / f"mod{i}.py").write_text(
            "".join(f"def func_{i}_{j}(x):\n    return x + {j}\n\n" for j in range(20)), encoding="utf-8"
        )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "b"],
        check=True,
    )
    return root


async def batched(repo: Path, n: int = 64, latency: float = 0.5, concurrency: int = 16) -> Figure:
    sub = ScriptedClient(responder=lambda msgs: "ok", latency=latency)
    code = f"out = llm_query_batched([f'prompt {{i}}' for i in range({n})])\nprint(len(out))"
    root = ScriptedClient([f"```repl\n{code}\n```", "FINAL(done: pkg0/mod0.py:1)"])
    models = Models(root=root, root_model="bench-root", sub=sub, sub_model="bench-sub")
    options = EngineOptions(concurrency=concurrency, limits=Limits(max_sub_calls=n + 10))
    spans: list[float] = []

    def listen(event: Event) -> None:
        if event["kind"] == "output":
            spans.append(event["seconds"])

    async with Session(Repo(repo), models, options) as session:
        await session.ask("bench", listeners=[listen])
    engine_s = spans[0]

    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with semaphore:
            await sub.complete([Message("user", f"ref {i}")], model="m", max_tokens=1)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    gather_s = time.perf_counter() - started
    ideal = n / concurrency * latency
    ratio = engine_s / ideal
    return Figure(
        f"llm_query_batched {n}×{latency}s, concurrency {concurrency}",
        f"{engine_s:.2f} s",
        "≤ 1.5× ideal",
        f"ideal {ideal:.2f} s; bare gather {gather_s:.2f} s",
        ratio,
        ratio <= 1.5,
    )


async def overhead(repo: Path, iterations: int = 40) -> Figure:
    code = "n = len(repo.files())\nhits = repo.grep('func_7_3', max_results=5)\nprint(n, len(hits))"
    replies = [f"```repl\n{code}\nstep = {i}\n```" for i in range(iterations)] + [
        "FINAL(done: pkg0/mod0.py:1)"
    ]
    root = ScriptedClient(replies)
    models = Models(root=root, root_model="bench-root", sub=root, sub_model="bench-sub")
    stamps: list[tuple[str, float]] = []

    def listen(event: Event) -> None:
        stamps.append((event["kind"], time.perf_counter()))

    async with Session(Repo(repo), models, EngineOptions(limits=Limits(max_iterations=iterations + 5))) as s:
        await s.ask("bench", listeners=[listen])
    # One iteration = from its "iteration" event to the next one: model time here is ~0 (scripted).
    starts = [t for kind, t in stamps if kind == "iteration"]
    per_iter = [b - a for a, b in itertools.pairwise(starts[1:])]  # skip the warm-up turn
    median_ms = statistics.median(per_iter) * 1000

    namespace: dict[str, object] = {"repo": Repo(repo)}
    ref: list[float] = []
    for i in range(iterations):
        with contextlib.redirect_stdout(io.StringIO()):  # the reference's prints stay out of the table
            started = time.perf_counter()
            exec(compile(code + f"\nstep = {i}", "<bench>", "exec"), namespace)
            ref.append(time.perf_counter() - started)
    ref_ms = statistics.median(ref) * 1000
    return Figure(
        "engine overhead per iteration, 1,000 files",
        f"{median_ms:.1f} ms median",
        "< 20 ms",
        f"in-process exec {ref_ms:.1f} ms",
        median_ms / ref_ms if ref_ms else None,
        median_ms < 20,
    )


async def run_all() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp) / "repo")
        return [await batched(repo), await overhead(repo)]


if __name__ == "__main__":
    print_table(asyncio.run(run_all()))
