"""Trace retention on a real folder: what goes (old, over the cap) and what never does."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from reporlm.app import engine_options
from reporlm.config import ConfigError, load_settings
from reporlm.engine.options import EngineOptions
from reporlm.engine.rlm import Models
from reporlm.engine.session import Session
from reporlm.engine.trace import read_trace
from reporlm.engine.trace_retention import TRACE_NAME, TraceRetention
from reporlm.llm.scripted import ScriptedClient
from reporlm.lsp.traces import new_trace_file
from reporlm.sandbox import SandboxLimits
from reporlm.workspace import Repo

HOUR = 3600.0
DAY = 86_400.0
NOW = time.time()


def trace(folder: Path, n: int, age: float, size: int = 100, name: str | None = None) -> Path:
    """A trace file named like ours, `size` bytes, last modified `age` seconds ago."""
    path = folder / (name or f"20260101-0000{n:02d}-{n:08x}.jsonl")
    path.write_bytes(b"x" * size)
    os.utime(path, (NOW - age, NOW - age))
    return path


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_our_naming_pattern_is_the_one_the_server_uses() -> None:
    assert TRACE_NAME.fullmatch(new_trace_file().name)


def test_old_traces_go_and_recent_ones_stay(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = [trace(tmp_path, n, age=(15 + n) * DAY) for n in range(3)]
    recent = [trace(tmp_path, n, age=n * DAY + 2 * HOUR) for n in range(3, 6)]
    with caplog.at_level(logging.DEBUG, logger="reporlm.engine.trace_retention"):
        removed = TraceRetention(max_age_days=14, max_total_mb=0).prune(tmp_path, now=NOW)
    assert sorted(removed) == sorted(old)
    assert names(tmp_path) == {p.name for p in recent}
    assert f"removed trace {old[0]} (older than 14 days)" in caplog.text
    assert "removed 3 old trace file(s)" in caplog.text
    # Nothing left to do: a second pass removes nothing.
    assert TraceRetention(max_age_days=14, max_total_mb=0).prune(tmp_path, now=NOW) == []


def test_the_oldest_go_while_the_folder_is_over_the_cap(tmp_path: Path) -> None:
    files = [trace(tmp_path, n, age=(10 - n) * HOUR, size=1000) for n in range(6)]  # files[0] oldest
    removed = TraceRetention(max_age_days=0, max_total_mb=0.0035).prune(tmp_path, now=NOW)
    assert removed == files[:3]  # 6000 bytes -> 3000, under the 3500-byte cap, oldest first
    assert names(tmp_path) == {p.name for p in files[3:]}


def test_traces_of_the_last_hour_stay_even_over_the_cap(tmp_path: Path) -> None:
    older = trace(tmp_path, 1, age=2 * HOUR, size=1000)
    live = [trace(tmp_path, n, age=60.0 * n, size=1000) for n in range(2, 5)]
    removed = TraceRetention(max_age_days=0, max_total_mb=0.001).prune(tmp_path, now=NOW)
    assert removed == [older]
    assert names(tmp_path) == {p.name for p in live}  # another run may still be writing these


def test_the_trace_being_started_is_kept(tmp_path: Path) -> None:
    current = trace(tmp_path, 1, age=30 * DAY, size=5000)  # old and large: would go first otherwise
    other = trace(tmp_path, 2, age=20 * DAY)
    removed = TraceRetention(max_age_days=14, max_total_mb=0.001).prune(tmp_path, keep=current, now=NOW)
    assert removed == [other]
    assert current.is_file()


def test_files_that_are_not_our_traces_are_never_touched(tmp_path: Path) -> None:
    ancient = 400 * DAY
    foreign = [
        trace(tmp_path, 0, ancient, name="notes.txt"),
        trace(tmp_path, 0, ancient, name="trace.jsonl"),
        trace(tmp_path, 0, ancient, name="20260101-000000-abcdef12.jsonl.bak"),
        trace(tmp_path, 0, ancient, name="20260101-000000-ABCDEF12.jsonl"),
        trace(tmp_path, 0, ancient, name="x20260101-000000-abcdef12.jsonl"),
    ]
    folder_like_ours = tmp_path / "20260101-000000-00000001.jsonl"
    folder_like_ours.mkdir()
    (folder_like_ours / "20260101-000000-00000002.jsonl").write_text("inside")
    os.utime(folder_like_ours, (NOW - ancient, NOW - ancient))
    removed = TraceRetention(max_age_days=1, max_total_mb=0.000001).prune(tmp_path, now=NOW)
    assert removed == []
    assert all(p.exists() for p in foreign)
    assert (folder_like_ours / "20260101-000000-00000002.jsonl").is_file()  # never recurses


def test_symlinks_are_neither_followed_nor_removed(tmp_path: Path) -> None:
    folder, elsewhere = tmp_path / "traces", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    target = trace(elsewhere, 7, age=100 * DAY, size=10_000)
    link = folder / "20260101-000000-0000000a.jsonl"
    link.symlink_to(target)
    os.utime(link, (NOW - 100 * DAY, NOW - 100 * DAY), follow_symlinks=False)
    dir_link = folder / "20260101-000000-0000000b.jsonl"
    dir_link.symlink_to(elsewhere, target_is_directory=True)
    mine = trace(folder, 3, age=2 * HOUR, size=100)
    # The link's 10 KB target is not counted: our own 100 bytes are under the 1 KB cap.
    removed = TraceRetention(max_age_days=14, max_total_mb=0.001).prune(folder, now=NOW)
    assert removed == []
    assert link.is_symlink() and dir_link.is_symlink() and target.is_file() and mine.is_file()


def test_a_missing_folder_is_nothing_to_do(tmp_path: Path) -> None:
    assert TraceRetention().prune(tmp_path / "never-made") == []


# -- settings -------------------------------------------------------------------------------------


def test_retention_settings_defaults_env_and_flags(tmp_path: Path) -> None:
    defaults = load_settings(None, env={})
    assert (defaults.trace_max_age_days, defaults.trace_max_mb) == (14.0, 200.0)
    assert engine_options(defaults, "scripted").trace_retention == TraceRetention(14.0, 200.0)
    env = {"REPORLM_TRACE_MAX_AGE_DAYS": "3", "REPORLM_TRACE_MAX_MB": "0.5"}
    from_env = load_settings(None, env=env)
    assert engine_options(from_env, "scripted").trace_retention == TraceRetention(3.0, 0.5)
    flagged = load_settings(None, env=env, overrides={"trace_max_mb": 0})
    assert (flagged.trace_max_age_days, flagged.trace_max_mb) == (3.0, 0.0)


def test_a_repository_file_cannot_set_what_is_deleted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / ".reporlm.toml").write_text("trace_max_age_days = 0.001\ntrace_max_mb = 0.001\n")
    settings = load_settings(tmp_path, env={})
    assert (settings.trace_max_age_days, settings.trace_max_mb) == (14.0, 200.0)
    assert "ignoring 'trace_max_age_days'" in caplog.text and "ignoring 'trace_max_mb'" in caplog.text


@pytest.mark.parametrize(
    ("env", "overrides", "message"),
    [
        ({"REPORLM_TRACE_MAX_AGE_DAYS": "two weeks"}, {}, r"REPORLM_TRACE_MAX_AGE_DAYS='two weeks': "),
        ({"REPORLM_TRACE_MAX_MB": "-1"}, {}, r"trace_max_mb must be a size in MB, 0 or more .*not -1\.0"),
        ({}, {"trace_max_age_days": -3}, r"trace_max_age_days must be a number of days, 0 or more"),
        ({}, {"trace_max_mb": "200MB"}, r"trace_max_mb must be .* not '200MB'"),
        ({}, {"trace_max_mb": float("nan")}, r"not nan"),
        ({}, {"trace_max_age_days": False}, r"not False"),
    ],
)
def test_retention_settings_say_what_is_wrong(
    env: dict[str, str], overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, env=env, overrides=overrides)


# -- a run ----------------------------------------------------------------------------------------


async def test_a_run_prunes_its_trace_folder_when_it_starts(small_repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "traces"
    folder.mkdir()
    old = trace(folder, 1, age=20 * DAY)
    recent = trace(folder, 2, age=2 * DAY)
    foreign = trace(folder, 0, age=20 * DAY, name="keep-me.jsonl")
    client = ScriptedClient(["FINAL(Nothing to look at.)"])
    models = Models(root=client, root_model="scripted", sub=client, sub_model="scripted")
    options = EngineOptions(sandbox=SandboxLimits(wall_seconds=5, cpu_seconds=5), require_evidence=False)
    current = folder / new_trace_file().name
    async with Session(Repo(small_repo), models, options) as session:
        result = await session.ask("q", trace_file=current)
    assert result.answer == "Nothing to look at."
    assert not old.exists()
    assert recent.is_file() and foreign.is_file()
    assert read_trace(current)[-1]["kind"] == "run_end"
