"""The local-model benchmark's reading of the client's call log, and its figures (no model run)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from bench.local import Run, figures, render_runs

MODELS = ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]


def run(model: str, repo: str, mode: str, first: float, seconds: float, load_s: float = 0.0) -> Run:
    call = {"prompt": 2800.0, "processed": 2800.0, "prompt_s": 26.0, "loaded": 0.0}
    if load_s:
        call.update(loaded=1160.0, processed=1640.0, load_s=load_s)
    return Run(
        model,
        repo,
        mode,
        "q",
        seconds=seconds,
        first_token=first,
        first_call=call,
        generated=100,
        generate_s=4,
    )


def test_figures_are_ratios_of_the_same_run_and_say_when_a_target_is_missed() -> None:
    results = [
        run(MODELS[0], "reporlm", "disabled", 40.0, 60.0),
        run(MODELS[0], "reporlm", "warm", 9.0, 25.0, load_s=0.2),
        run(MODELS[0], "reporlm", "warm", 11.0, 35.0, load_s=1.4),
        run(MODELS[0], "reporlm", "warm", 8.0, 28.0, load_s=0.3),
        run(MODELS[0], "requests-2.34.2", "disabled", 30.0, 50.0),
        run(MODELS[0], "requests-2.34.2", "warm", 20.0, 40.0, load_s=0.2),
    ]
    found = {f.name: f for f in figures(results, {MODELS[0]: 14 << 20}, MODELS[:1])}
    readme = found["0.5b, reporlm: first token of a new process, warm cache, second question"]
    assert readme.ratio == 9.0 / 40.0 and readme.ok  # medians: 9 s against 40 s
    corpus = found["0.5b, requests-2.34.2: first token of a new process, warm cache, second question"]
    assert corpus.ratio == 20.0 / 30.0 and not corpus.ok
    assert not found["0.5b: loading the cached prefix (worst of 4)"].ok  # one load took 1.4 s
    assert found["0.5b: prefix cache size after one question"].value == "14.0 MB"
    (answer,) = [f for f in found.values() if "whole answer" in f.name]
    assert answer.value == "28.0 s" and answer.ok
    table = render_runs(results)
    assert table.count("\n") == len(results) + 1 and "| 0.5b | reporlm | warm | 9.0 s | 25.0 s |" in table


def test_sigterm_unwinds_so_a_running_ask_can_kill_its_child() -> None:
    script = (
        "import os, signal, sys\n"
        "from bench.local import exit_on_sigterm\n"
        "exit_on_sigterm()\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    signal.pause()\n"
        "finally:\n"
        "    print('child killed', flush=True)\n"
    )
    root = Path(__file__).parents[2]
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=root)
    assert done.stdout == "child killed\n"
    assert done.returncode == 128 + signal.SIGTERM
