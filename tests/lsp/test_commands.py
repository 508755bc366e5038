"""Each command end to end against a real server process: result shapes, locations, progress."""

from __future__ import annotations

import json
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

from reporlm.engine.trace import read_trace
from reporlm.lsp import wire

from .conftest import command, events, open_repo, repl, status_when, write_script


def lines_of(location: dict, repo: Path) -> tuple[str, int, int, str]:
    """(path, first line, last line, text of the first line), 1-based, from an LSP Location."""
    path = Path(location["uri"].removeprefix("file://"))
    start, end = location["range"]["start"]["line"] + 1, location["range"]["end"]["line"] + 1
    text = path.read_text().splitlines()[start - 1]
    return path.relative_to(repo.resolve()).as_posix(), start, end, text


async def test_initialize_advertises_the_commands_and_status_reports_the_setup(
    lsp: LanguageClient, small_repo: Path
) -> None:
    result = await open_repo(lsp, small_repo, budget={"maxIterations": 7})
    assert result.server_info is not None and result.server_info.name == "reporlm"
    provider = result.capabilities.execute_command_provider
    assert provider is not None and sorted(provider.commands) == sorted(wire.COMMANDS)

    status = await command(lsp, wire.STATUS)
    assert status["repo"] == str(small_repo.resolve())
    assert status["provider"] == "scripted" and status["model"] == "scripted"
    assert status["budget"]["max_iterations"] == 7
    assert status["runs"] == {"active": 0, "max": 4}
    assert status["api_key_set"] is False and status["configuration_error"] is None
    # The repository is listed in the background after `initialized`.
    ready = await status_when(lsp, lambda s: s["index"]["state"] == "ready")
    assert ready["index"]["files"] == 5 and ready["index"]["languages"]["Python"] == 3
    assert ready["index"]["symbols"]["state"] == "ready" and ready["index"]["symbols"]["indexed"] == 3


async def test_ask_answers_with_locations_usage_and_a_trace(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "script.json",
        replies=[
            repl("hits = repo.grep('MAX_RETRIES =')\nprint(hits[0])"),
            "FINAL(Set in `shop/retry.py:3`, used at shop/retry.py:6-7; not at shop/retry.py:40.)",
        ],
    )
    await open_repo(lsp, small_repo, script)
    result = await command(lsp, wire.ASK, {"question": "Where are retries configured?"})

    assert result["answer"].startswith("Set in `shop/retry.py:3`")
    assert result["partial"] is False and result["reason"] == "final"
    places = [lines_of(loc, small_repo) for loc in result["citations"]]
    assert places == [
        ("shop/retry.py", 3, 3, "MAX_RETRIES = 3"),
        ("shop/retry.py", 6, 7, "def with_retries(fn, retries=MAX_RETRIES):"),
    ]
    # A whole-line range ends at the end of its last line.
    assert result["citations"][0]["range"]["end"]["character"] == len("MAX_RETRIES = 3")
    assert result["cited"][2] == {
        "path": "shop/retry.py",
        "start": 40,
        "end": 40,
        "verified": False,
        "reason": "shop/retry.py has 12 lines",
    }
    assert result["iterations"] == 2 and result["sub_calls"] == 0
    assert result["usage"]["total"]["input_tokens"] > 0
    assert result["usage"]["total"]["input_tokens"] == result["usage"]["root"]["input_tokens"]

    # The trace arrived as notifications, and was written where the result says.
    kinds = [e["kind"] for e in events(lsp)]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    assert {e["run"] for e in events(lsp)} == {result["trace_id"]}
    output = events(lsp, "output")[0]
    assert "shop/retry.py:3: MAX_RETRIES = 3" in output["preview"]
    written = read_trace(Path(result["trace_file"]))
    assert [e["seq"] for e in written] == [e["seq"] for e in events(lsp)]
    assert Path(result["trace_file"]).is_relative_to(tmp_path / "cache" / "traces")


async def test_progress_begin_reports_each_step_and_ends(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "script.json",
        replies=[repl("print(len(repo.files()))"), "FINAL(Five files: shop/retry.py:3.)"] * 2,
    )
    await open_repo(lsp, small_repo, script)
    # No token in the request: the server creates one, since the client can show progress.
    await command(lsp, wire.ASK, {"question": "How many files?"})
    (token,) = lsp.progress_reports
    reports = lsp.progress_reports[token]
    assert isinstance(reports[0], types.WorkDoneProgressBegin)
    assert reports[0].title == "reporlm: ask" and reports[0].cancellable is True
    assert isinstance(reports[-1], types.WorkDoneProgressEnd) and reports[-1].message == "answered"
    messages = [r.message for r in reports[1:-1]]
    assert all(isinstance(r, types.WorkDoneProgressReport) for r in reports[1:-1])
    assert "iteration 1/30 · 0 sub-calls · 0 tokens · thinking" in messages
    assert any(m.startswith("iteration 2/30") for m in messages)
    assert any("tokens · running code" in m and not m.endswith(" 0 tokens · running code") for m in messages)

    # A token the client sends with the request is used as it is.
    lsp.progress_reports["mine"] = []
    params = types.ExecuteCommandParams(
        command=wire.ASK, arguments=[{"question": "How many files, again?"}], work_done_token="mine"
    )
    await lsp.protocol.send_request_async(types.WORKSPACE_EXECUTE_COMMAND, params)
    assert [type(r).__name__ for r in lsp.progress_reports["mine"]][:1] == ["WorkDoneProgressBegin"]
    assert isinstance(lsp.progress_reports["mine"][-1], types.WorkDoneProgressEnd)
    assert len(lsp.progress_reports) == 2


async def test_a_client_without_progress_support_gets_no_progress(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "s.json", replies=[repl("print(len(repo.files()))"), "FINAL(shop/retry.py:3)"]
    )
    await open_repo(lsp, small_repo, script, capabilities=types.ClientCapabilities())
    result = await command(lsp, wire.ASK, {"question": "q"})
    assert result["partial"] is False
    assert lsp.progress_reports == {}
    assert events(lsp, "final"), "trace notifications do not depend on progress support"


PLAN = """# Plan: make the retry count configurable

Read it from the order settings instead of a constant.

## Steps

### 1. Add the setting
Add `retries` to the settings, defaulting to the old constant.
Touches: `shop/retry.py:3` (`MAX_RETRIES`), `shop/settings.py` (`Settings.retries`)

### 2. Pass it where orders retry
Touches: `shop/orders.py:4-5` (`place`, `with_retries`)

## Risks
- Callers that pass retries themselves: `shop/orders.py:5`
- The docs mention the old place: `docs/guide.md:1`
"""


async def test_plan_returns_ordered_steps_with_checked_places(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "script.json",
        replies=[repl("print(repo.grep('retries'))"), repl(f"plan = {json.dumps(PLAN)}\nFINAL_VAR('plan')")],
    )
    await open_repo(lsp, small_repo, script)
    result = await command(lsp, wire.PLAN, {"goal": "make the retry count configurable"})

    assert result["plan"].strip() == PLAN.strip() and "answer" not in result
    assert result["title"] == "make the retry count configurable"
    assert [s["title"] for s in result["steps"]] == ["Add the setting", "Pass it where orders retry"]
    first, second = result["steps"]
    assert [lines_of(loc, small_repo)[:3] for loc in first["locations"]] == [
        ("shop/retry.py", 3, 3),
        ("shop/retry.py", 3, 3),  # `MAX_RETRIES` is defined there
    ]
    # What does not exist is flagged, not dropped.
    assert first["unverified"] == [
        {"kind": "file", "text": "shop/settings.py", "reason": "no such file: shop/settings.py"},
        {"kind": "symbol", "text": "Settings.retries", "reason": "no definition of retries found"},
    ]
    assert [lines_of(loc, small_repo)[:3] for loc in second["locations"]] == [
        ("shop/orders.py", 4, 5),
        ("shop/orders.py", 4, 4),  # def place
        ("shop/retry.py", 6, 6),  # def with_retries
    ]
    assert second["unverified"] == []
    assert [r["title"] for r in result["risks"]] == [
        "Callers that pass retries themselves",
        "The docs mention the old place",
    ]
    assert lines_of(result["risks"][1]["locations"][0], small_repo)[:2] == ("docs/guide.md", 1)
    assert result["partial"] is False and result["trace_id"] and result["usage"]["total"]["output_tokens"]
    # The model was asked for a plan, in the plan prompt's shape.
    question = events(lsp, "run_start")[0]["question"]
    assert "Write a change plan for this goal: make the retry count configurable" in question
    assert "Touches:" in question


async def test_explain_asks_about_the_symbol_at_the_position(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "script.json",
        replies=[
            repl("print(repo.read('shop/retry.py', 6, 12))"),
            "FINAL(`with_retries` calls `fn` up to `retries` times (shop/retry.py:6-12).)",
        ],
    )
    await open_repo(lsp, small_repo, script)
    orders = small_repo / "shop" / "orders.py"
    # Line 5 (4 from 0) is "    return with_retries(lambda: order.submit(), retries=5)"; column 15: the name
    result = await command(
        lsp, wire.EXPLAIN, {"uri": orders.as_uri(), "position": {"line": 4, "character": 15}}
    )
    assert result["symbol"] == "with_retries"
    assert lines_of(result["location"], small_repo)[:2] == ("shop/orders.py", 5)
    assert result["answer"].startswith("`with_retries` calls")
    assert [lines_of(c, small_repo)[:3] for c in result["citations"]] == [("shop/retry.py", 6, 12)]
    question = events(lsp, "run_start")[0]["question"]
    assert (
        "Explain `with_retries`, as it appears at `shop/orders.py:5`, inside `place` (shop/orders.py:4)"
        in (question)
    )
    assert "return with_retries(lambda: order.submit(), retries=5)" in question


async def test_sub_call_answers_are_kept_within_the_cap_the_settings_give(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    code = "print(llm_query('a' * 300))\nprint(llm_query('b' * 300))"
    # Replies go to whichever call comes next: the root's block, its two sub-calls, the root again.
    script = write_script(tmp_path / "s.json", replies=[repl(code), "x", "y", "FINAL(shop/retry.py:3)"])
    # 0.0005 MB (524 characters) holds one of the two prompts with its answer, not both.
    await open_repo(lsp, small_repo, script, subcallCacheMb=0.0005)
    await command(lsp, wire.ASK, {"question": "q"})
    status = await command(lsp, wire.STATUS)
    cache = status["folders"][0]["subcall_cache"]
    assert cache["max_mb"] == 0.0005
    assert cache["answers"] == 1, "the older answer went to keep within the cap"
