"""`python -m bench`: every module exposing run_all() is a suite; one table; failures reported."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import bench
from bench import __main__ as suite_runner

SUITES = {
    "fast.py": (
        "from bench.figures import Figure\n"
        "async def run_all():\n"
        "    return [Figure('sort 1k', '2.00 ms', '≤ 2× sorted()', 'sorted() 1.00 ms', 2.0, True),\n"
        "            Figure('parse', '9 ms', '< 5 ms', 'ast 3 ms', 3.0, False)]\n"
    ),
    "broken.py": "async def run_all():\n    raise RuntimeError('reference tool missing')\n",
    "unimportable.py": "import no_such_module_here\n",
    "helpers.py": "def run_all():\n    return []  # not a coroutine function: not a suite\n",
    "_private.py": "async def run_all():\n    raise AssertionError('private modules are skipped')\n",
}


@pytest.fixture
def extra_suites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "more"
    folder.mkdir()
    for name, text in SUITES.items():
        (folder / name).write_text(text, encoding="utf-8")
    # The modules become bench.fast, bench.broken, ... as if they sat in bench/.
    monkeypatch.setattr(bench, "__path__", [*bench.__path__, str(folder)])
    yield folder
    for name in SUITES:
        sys.modules.pop(f"bench.{name.removesuffix('.py')}", None)


def test_discovery_finds_modules_with_run_all(extra_suites: Path) -> None:
    names = suite_runner.suite_names()
    assert {"engine", "fast", "broken", "helpers"} <= set(names)
    assert "_private" not in names
    assert suite_runner.load_suite("fast") is not None
    assert suite_runner.load_suite("helpers") is None
    assert suite_runner.load_suite("quality") is None  # the harness is not a speed suite


def test_one_table_with_the_suite_and_failures_reported(
    extra_suites: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = suite_runner.main(
        ["fast", "broken", "unimportable", "helpers", "--json", str(tmp_path / "f.json")]
    )
    out = capsys.readouterr().out
    assert code == 1  # a suite failed
    assert "| suite | benchmark | measured | target | reference (same run) | ratio | meets target |" in out
    assert "| fast | sort 1k | 2.00 ms | ≤ 2× sorted() | sorted() 1.00 ms | 2.00× | yes |" in out
    assert "| fast | parse | 9 ms | < 5 ms | ast 3 ms | 3.00× | no |" in out
    assert "suite broken failed: RuntimeError: reference tool missing" in out
    assert "suite unimportable failed: cannot import: ModuleNotFoundError" in out
    data = json.loads((tmp_path / "f.json").read_text())
    assert [f["suite"] for f in data["figures"]] == ["fast", "fast"]
    assert set(data["failures"]) == {"broken", "unimportable"}


def test_strict_fails_on_a_missed_target(extra_suites: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert suite_runner.main(["fast"]) == 0
    assert suite_runner.main(["fast", "--strict"]) == 1


def test_an_unknown_suite_is_a_usage_error(extra_suites: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        suite_runner.main(["nope"])
    assert exit_.value.code == 2
