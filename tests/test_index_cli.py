"""`reporlm index` as a CI job or a person runs it: a real subprocess on a repository made here."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from repo_builder import SMALL_REPO, make_repo
from reporlm import cli
from reporlm.index_cli import INDEX_LOGGER, IndexProgress, reason_kind, skipped_by_reason
from reporlm.workspace.index import SymbolIndex

MINIFIED = "var a=1;" * 2000  # one 16,000-char line: the index skips it as minified


def run_index(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORLM_")}
    env["REPORLM_CACHE_DIR"] = str(tmp_path / "cache")
    return subprocess.run(
        [sys.executable, "-m", "reporlm", "index", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def web_repo(tmp_path: Path) -> Path:
    files = {**SMALL_REPO, "web/app.js": "function main() {\n  return 1;\n}\n", "web/app.min.js": MINIFIED}
    return make_repo(tmp_path / "web-repo", files)


def test_json_status_with_the_skipped_file_and_its_reason(web_repo: Path, tmp_path: Path) -> None:
    done = run_index(tmp_path, "--repo", str(web_repo), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)  # stdout holds the JSON object and nothing else
    assert data["repo"] == str(web_repo.resolve()) and data["state"] == "ready"
    # Supported: three Python files and two JavaScript ones; the minified one is skipped.
    assert (data["files"], data["indexed"]) == (5, 4)
    assert data["skipped"] == {
        "count": 1,
        "reasons": [
            {
                "reason": "minified or generated",
                "count": 1,
                "examples": [
                    {
                        "path": "web/app.min.js",
                        "reason": "skipped: minified or generated (a line of 16,000 chars)",
                    }
                ],
            }
        ],
    }
    location = Path(data["location"])
    assert location.is_file() and location.is_relative_to(tmp_path / "cache")
    assert {"Python", "JavaScript"} <= set(data["languages"])
    assert isinstance(data["seconds"], float) and data["seconds"] >= 0
    assert f"indexing {web_repo.resolve()}" in done.stderr  # progress went to stderr


def test_a_second_run_refreshes_the_same_index(web_repo: Path, tmp_path: Path) -> None:
    first = json.loads(run_index(tmp_path, "--repo", str(web_repo), "--json").stdout)
    (web_repo / "shop" / "payments.py").write_text("def charge(order):\n    return order.total\n")
    done = run_index(tmp_path, "--repo", str(web_repo))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"Symbol index of {web_repo.resolve()}: ready"
    assert lines[1] == "files:     6 in supported languages, 5 indexed, 1 skipped"
    assert lines[2] == "skipped:   minified or generated: 1 (web/app.min.js [a line of 16,000 chars])"
    assert f"index:     {first['location']}" in lines
    assert not done.stdout.count("reporlm:")  # progress stays on stderr


def test_files_no_query_sees_are_listed_as_skipped_by_reason(tmp_path: Path) -> None:
    # A plain folder (no git): its .gitignore is read by reporlm, bad line and all.
    root = tmp_path / "plain"
    root.mkdir()
    (root / ".gitignore").write_text("\\\n*.tmp\n")
    (root / "app.py").write_text("def main():\n    return 1\n")
    (root / "scratch.tmp").write_text("ignored\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (root / "notes.txt").write_bytes("UTF-16 notes\n".encode("utf-16"))
    with open(os.path.join(os.fsencode(root), b"bad\xff.py"), "wb") as handle:
        handle.write(b"x = 1\n")
    done = run_index(tmp_path, "--repo", str(root))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == "files:     1 in supported languages, 1 indexed, 3 skipped"
    assert lines[1:5] == [
        "files:     1 in supported languages, 1 indexed, 3 skipped",
        "skipped:   UTF-16 text: 1 (notes.txt)",
        "           binary: 1 (logo.png)",
        "           the file name is not valid UTF-8: 1 (bad\\xff.py)",
    ]


def test_a_path_that_is_not_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    missing = run_index(tmp_path, "--repo", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "--repo" in missing.stderr and "no such folder" in missing.stderr
    a_file = tmp_path / "notes.txt"
    a_file.write_text("hi")
    not_a_folder = run_index(tmp_path, "--repo", str(a_file), "--json")
    assert not_a_folder.returncode == 2 and "no such folder" in not_a_folder.stderr
    assert missing.stdout == not_a_folder.stdout == ""


def test_failed_indexing_exits_non_zero_and_says_why(
    web_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken_sync(self: SymbolIndex, listing: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SymbolIndex, "sync", broken_sync)
    code = cli.main(["index", "--repo", str(web_repo), "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert (
        f"reporlm: indexing {web_repo.resolve()} failed: OSError: [Errno 28] No space left on device" in err
    )


def test_progress_lines_show_the_index_log_and_leave_the_logger_as_it_was(tmp_path: Path) -> None:
    logger = logging.getLogger(INDEX_LOGGER)
    before = (logger.level, logger.propagate, list(logger.handlers))
    stream = StringIO()
    with IndexProgress(Console(file=stream, force_terminal=False, width=200), tmp_path, every=0):
        logger.info("symbol index: parsing %d files (%.1f MB) of %s", 1200, 14.3, tmp_path)
        logger.info("symbol index: %d/%d files parsed", 600, 1200)
    shown = stream.getvalue().splitlines()
    assert shown[0] == f"reporlm: indexing {tmp_path}"
    assert shown[1].endswith(f"symbol index: parsing 1200 files (14.3 MB) of {tmp_path}")
    assert shown[2].endswith("symbol index: 600/1200 files parsed")
    assert (logger.level, logger.propagate, list(logger.handlers)) == before


def test_skip_reasons_group_by_kind_with_a_few_examples() -> None:
    skipped = {f"gen/{i}.js": f"skipped: minified or generated (a line of {i},000 chars)" for i in range(5)}
    skipped["big.json.js"] = "skipped: too large (3.1 MB; the limit is 2 MB)"
    groups = skipped_by_reason(skipped, examples=2)
    assert [(g["reason"], g["count"]) for g in groups] == [("minified or generated", 5), ("too large", 1)]
    assert [e["path"] for e in groups[0]["examples"]] == ["gen/0.js", "gen/1.js"]
    assert reason_kind("vanished while indexing") == "vanished while indexing"
    assert reason_kind("skipped: permission denied") == "permission denied"
