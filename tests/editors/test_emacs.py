"""The Emacs Lisp of docs/editors.md in a real Emacs with eglot, against a real `reporlm serve`.

The code block is taken from the page itself, so the page is what is tested. Emacs runs in batch
mode (Debian's `emacs-nox` and `elpa-eglot`: Emacs 28.2, eglot 1.9 on bookworm);
tests/editors/emacs_driver.el runs the commands and writes what Emacs showed to a JSON file.

Without Emacs and eglot this test skips; with REPORLM_REQUIRE_EMACS=1 (scripts/test) it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .test_neovim import SCRIPT

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "editors.md"
DRIVER = Path(__file__).with_name("emacs_driver.el")
MARKER = "<!-- tests/editors/test_emacs.py loads the next block -->"
RUN_SECONDS = 120
"""A guard against a hung editor, not a speed check: the driver's own waits end in 30 s."""


def documented_elisp() -> str:
    text = DOC.read_text("utf-8")
    assert MARKER in text, f"{DOC} lost the marked Emacs Lisp block"
    match = re.search(r"```elisp\n(.*?)\n```", text[text.index(MARKER) :], re.DOTALL)
    assert match, "no ```elisp block after the marker"
    return match.group(1) + "\n"


def find_emacs() -> str:
    emacs = shutil.which("emacs")
    missing = "no emacs (apt-get install emacs-nox elpa-eglot)"
    if emacs:
        probe = subprocess.run(
            [emacs, "--batch", "--eval", "(require 'eglot)"], capture_output=True, timeout=60
        )
        if probe.returncode == 0:
            return emacs
        missing = "emacs has no eglot (apt-get install elpa-eglot)"
    if os.environ.get("REPORLM_REQUIRE_EMACS") == "1":
        pytest.fail(f"{missing}; REPORLM_REQUIRE_EMACS=1 says this run must test it")
    pytest.skip(missing)


def run_emacs(emacs: str, repo: Path, tmp_path: Path) -> dict[str, Any]:
    snippet = tmp_path / "reporlm-eglot.el"
    snippet.write_text(documented_elisp(), encoding="utf-8")
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT), encoding="utf-8")
    results = tmp_path / "results.json"
    config = tmp_path / "driver.json"
    config.write_text(
        json.dumps(
            {
                "snippet": str(snippet),
                # `reporlm serve` from PATH, as the page says (eglot starts it in the project folder)
                "cmd": ["reporlm", "serve"],
                "init_options": {"provider": "scripted", "script": str(script), "blockSeconds": 600},
                "repo": str(repo),
                "results": str(results),
            }
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("REPORLM_")}
    env.update(
        HOME=str(tmp_path / "home"),
        REPORLM_CACHE_DIR=str(tmp_path / "reporlm-cache"),
        REPORLM_EMACS_TEST=str(config),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)]),
    )
    process = subprocess.run(
        [emacs, "--batch", "-l", str(DRIVER)],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )
    out = json.loads(results.read_text("utf-8")) if results.exists() else {}
    assert process.returncode == 0 and "error" not in out, (
        f"emacs exited {process.returncode}\n{out.get('error')}\nstderr: {process.stderr[-4000:]}"
    )
    return out


def test_ask_plan_explain_status_and_cancel_in_emacs(small_repo: Path, tmp_path: Path) -> None:
    emacs = find_emacs()
    out = run_emacs(emacs, small_repo, tmp_path)

    # The commands start a reporlm connection of their own: the buffer's server is left alone.
    assert out["buffer_server_before"] is None and out["buffer_server_after"] is None
    status = out["status"]
    assert status["repo"] == str(small_repo.resolve()) and status["provider"] == "scripted"
    assert (
        out["status_message"].startswith("reporlm 0.")
        and "provider scripted, 0 of 4 runs" in (out["status_message"])
    )

    ask = out["ask"]
    assert ask["answer"] == (
        "_Asked: Where are retries configured?_\n\n"
        "Retries are set in shop/retry.py:3 and overridden in shop/orders.py:5, not in shop/missing.py:9."
    )
    assert ask["citations"].splitlines()[2:] == [
        "shop/retry.py:3:MAX_RETRIES = 3",
        "shop/orders.py:5:return with_retries(lambda: order.submit(), retries=5)",
    ]
    # next-error from the citations buffer opened the first cited line
    assert Path(ask["jump"]["file"]).resolve() == (small_repo / "shop" / "retry.py").resolve()
    assert ask["jump"]["line"] == 3
    assert out["progress"][0] == "reporlm: iteration 1/30 · 0 sub-calls · 0 tokens · thinking"

    plan = out["plan"]
    assert plan["answer"].startswith("_Plan for: make the retry count configurable_\n\n# Plan:")
    assert plan["citations"].splitlines()[2:] == [
        "shop/retry.py:3:MAX_RETRIES = 3",
        "shop/retry.py:3:MAX_RETRIES = 3",
        "shop/orders.py:4:def place(order):",
        "shop/orders.py:4:def place(order):",
        "docs/guide.md:1:Retries are configured in shop/retry.py.",
    ]

    explain = out["explain"]
    assert explain["answer"].startswith("_Explain: with_retries at shop/orders.py:5_\n\n`with_retries` calls")
    assert explain["citations"].splitlines()[2:] == [
        "shop/retry.py:6:def with_retries(fn, retries=MAX_RETRIES):"
    ]

    cancel = out["cancel"]
    assert cancel["answer"].startswith("_Asked: slow question_\n\n> **Partial answer** (cancelled)")
    assert "_No final answer: the run stopped (cancelled)" in cancel["answer"]
    assert cancel["citations"].splitlines()[2:] == []
    assert out["nothing_left"] == "reporlm: nothing to cancel"

    # eglot-server-programs: reporlm as the buffer's server, and eglot-execute-command
    assert out["managed_status"]["repo"] == str(small_repo.resolve())
