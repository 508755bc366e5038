"""The report on stored results: the table's figures, pooling, provenance and the chart."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from bench.records import RESULTS_FILE, RUN_FILE, append_record

from bench import report


def record(qid: str, kind: str, score: float, **extra: Any) -> dict[str, Any]:
    base = {
        "id": qid,
        "kind": kind,
        "score": score,
        "tokens": {"root": {"input": 1000, "output": 100}, "sub": {"input": 400, "output": 40}},
        "cost_usd": 0.01,
        "seconds": 10.0,
        "partial": False,
        "error": None,
    }
    return {**base, **extra}


def store(folder: Path, mode: str, model: str, records: list[dict[str, Any]], **info: Any) -> Path:
    folder.mkdir(parents=True)
    run = {
        "mode": mode,
        "provider": "anthropic",
        "model": model,
        "sub_model": "haiku",
        "created": "2026-01-02T03:04:05+0000",
        "machine": {"cpus": 2, "platform": "Linux-x86_64"},
        "reporlm_commit": "0123456789abcdef",
        "invocations": [{"command": f"python -m bench.quality --mode {mode} --out {folder.name}"}],
        **info,
    }
    (folder / RUN_FILE).write_text(json.dumps(run))
    for r in records:
        append_record(folder, r)
    return folder


def row(table: str, label: str) -> list[str]:
    for line in table.splitlines():
        if line.startswith(f"| {label} |"):
            return [cell.strip() for cell in line.strip("|").split("|")]
    raise AssertionError(f"no row {label!r} in\n{table}")


def test_table_scores_per_kind_overall_tokens_cost_time_partial(tmp_path: Path) -> None:
    rlm = store(
        tmp_path / "rlm",
        "rlm",
        "sonnet",
        [
            record("a", "where_defined", 1.0, seconds=30.0),
            record("b", "where_defined", 0.0, seconds=50.0, partial=True),
            record("c", "callers", 0.5, seconds=40.0),
            record("d", "needle", 1.0, seconds=20.0, tokens={"root": {"input": 9000, "output": 1000}}),
        ],
    )
    direct = store(
        tmp_path / "direct",
        "direct",
        "sonnet",
        [
            record("a", "where_defined", 0.0, cost_usd=None),
            record("c", "callers", 0.25, error="boom", seconds=0.0),
        ],
    )
    runs = report.load_runs([direct, rlm])
    table = report.render_table(runs)
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    assert header[:5] == ["mode · model", "n", "where_defined", "callers", "needle"]  # the pack's order

    cells = dict(zip(header, row(table, "rlm · sonnet + haiku"), strict=True))
    assert cells["n"] == "4"
    assert (
        cells["where_defined"] == "0.50 (2)"
        and cells["callers"] == "0.50 (1)"
        and cells["needle"] == "1.00 (1)"
    )
    assert cells["overall (95% CI)"].startswith("**0.62** [")
    assert cells["median tokens"] == "1.5k"  # 1540 per question, except one with 10000
    assert cells["cost"] == "$0.04 ($0.010/q)"
    assert cells["median time"] == "35 s"
    assert cells["partial"] == "25%" and cells["errors"] == "0"

    cells = dict(zip(header, row(table, "direct · sonnet"), strict=True))
    assert cells["needle"] == "–"
    assert cells["cost"] == "unpriced"  # one call had no known price: the total is unknown, not lower
    assert cells["errors"] == "1"
    assert cells["median time"] == "10 s"  # errors do not count toward time or tokens
    # rlm first, then the baselines, whatever order the folders came in
    assert table.index("| rlm ·") < table.index("| direct ·")


def test_runs_of_the_same_mode_and_model_are_pooled(tmp_path: Path) -> None:
    a = store(tmp_path / "a", "retrieval", "m", [record("q1", "needle", 1.0)])
    b = store(tmp_path / "b", "retrieval", "m", [record("q2", "needle", 0.0), record("q1", "needle", 0.0)])
    (runs,) = report.load_runs([a, b])
    assert runs.folders == [a, b]
    # q1 was asked again in b; its later record counts once.
    assert report.summarize(runs).n == 2 and report.summarize(runs).overall == 0.0
    provenance = report.render_provenance([runs])
    assert f"`{a}`" in provenance and f"`{b}`" in provenance
    assert "2 CPUs" in provenance and "`python -m bench.quality --mode retrieval --out a`" in provenance


def test_a_later_record_of_a_question_supersedes_the_earlier(tmp_path: Path) -> None:
    folder = store(
        tmp_path / "r", "direct", "m", [record("q", "needle", 0.0, error="x"), record("q", "needle", 1.0)]
    )
    assert len((folder / RESULTS_FILE).read_text().splitlines()) == 2
    assert report.summarize(report.load_runs([folder])[0]).overall == 1.0


def test_bootstrap_interval() -> None:
    assert report.bootstrap_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)
    small = [1.0, 0.0] * 5
    big = [1.0, 0.0] * 200
    lo, hi = report.bootstrap_interval(small)
    assert 0.0 <= lo < statistics.fmean(small) < hi <= 1.0
    lo_big, hi_big = report.bootstrap_interval(big)
    assert lo < lo_big < 0.5 < hi_big < hi  # more questions, a narrower interval
    assert hi_big - lo_big == pytest.approx(2 * 1.96 * 0.5 / 400**0.5, abs=0.02)  # the normal approximation
    assert report.bootstrap_interval(small) == (lo, hi)  # seeded: the same table every time


def test_main_prints_the_table_and_writes_the_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = store(
        tmp_path / "runs" / "rlm", "rlm", "m", [record("q1", "needle", 1.0), record("q2", "callers", 0.5)]
    )
    b = store(tmp_path / "runs" / "direct", "direct", "m", [record("q1", "needle", 0.0)])
    assert report.main([str(a), str(b), "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr()
    assert "| rlm · m + haiku | 2 |" in out.out and "| direct · m | 1 |" in out.out
    chart = tmp_path / "runs" / "quality.png"  # the folders' common parent
    assert f"chart: {chart}" in out.err
    data = chart.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    summaries = json.loads((tmp_path / "s.json").read_text())
    assert [s["label"] for s in summaries] == ["rlm · m + haiku", "direct · m"]
    assert summaries[0]["overall"] == 0.75


def test_a_folder_without_a_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="holds no quality run"):
        report.main([str(tmp_path)])


def test_rlm_runs_with_different_prompt_versions_are_rows_of_their_own(tmp_path: Path) -> None:
    v1 = store(
        tmp_path / "v1", "rlm", "qwen", [record("a", "needle", 0.0, iterations=4)],
        cli_flags=["--prompt-version", "v1"],
    )
    v2 = store(
        tmp_path / "v2", "rlm", "qwen", [record("a", "needle", 1.0, iterations=2)],
        cli_flags=["--max-iterations", "6", "--prompt-version", "v2"],
    )
    table = report.render_table(report.load_runs([v1, v2]))
    old, new = row(table, "rlm (prompt v1) · qwen + haiku"), row(table, "rlm (prompt v2) · qwen + haiku")
    header = next(line for line in table.splitlines() if line.startswith("| mode"))
    turns = [cell.strip() for cell in header.strip("|").split("|")].index("median turns")
    assert (old[turns], new[turns]) == ("4", "2")
    assert old[2] == "0.00 (1)" and new[2] == "1.00 (1)"
