"""Repo.read and Repo.line_count: decoding, line ranges, clamping."""

from __future__ import annotations

from pathlib import Path

import pytest
from workspace_helpers import APP_PY, write

from reporlm.workspace import Repo, WorkspaceError


def test_read_whole_file(git_repo: Path) -> None:
    assert Repo(git_repo).read("src/app.py") == APP_PY


def test_read_line_range_is_one_based_and_inclusive(git_repo: Path) -> None:
    repo = Repo(git_repo)
    assert repo.read("src/app.py", 4, 6) == 'def main():\n    print("hello")\n    return helper()\n'
    assert repo.read("src/app.py", 1, 1) == "import os\n"
    assert repo.read("src/app.py", start=9) == "def helper():\n    return 42\n"
    assert repo.read("src/app.py", end=1) == "import os\n"


def test_read_clamps_the_range(git_repo: Path) -> None:
    repo = Repo(git_repo)
    assert repo.read("src/app.py", 0, 1) == "import os\n"
    assert repo.read("src/app.py", -5, 1) == "import os\n"
    assert repo.read("src/app.py", 10, 999) == "    return 42\n"


def test_read_past_the_end_is_an_error(git_repo: Path) -> None:
    with pytest.raises(
        WorkspaceError, match=r"start line 11 is past the end of src/app\.py, which has 10 lines"
    ):
        Repo(git_repo).read("src/app.py", 11)


def test_read_end_before_start_is_an_error(git_repo: Path) -> None:
    with pytest.raises(WorkspaceError, match="end line 2 is before start line 5"):
        Repo(git_repo).read("src/app.py", 5, 2)


def test_read_line_numbers_must_be_ints(git_repo: Path) -> None:
    with pytest.raises(WorkspaceError, match="start must be an int"):
        Repo(git_repo).read("src/app.py", "3")  # type: ignore[arg-type]


def test_read_empty_file(git_repo: Path) -> None:
    repo = Repo(git_repo)
    assert repo.read("src/pkg/__init__.py") == ""
    assert repo.read("src/pkg/__init__.py", 1, 5) == ""
    assert repo.line_count("src/pkg/__init__.py") == 0


def test_crlf_is_kept_and_counts_as_one_line(git_repo: Path) -> None:
    repo = Repo(git_repo)
    assert repo.read("crlf.py", 2, 2) == "second = 2\r\n"
    assert repo.line_count("crlf.py") == 2


def test_undecodable_bytes_are_replaced(git_repo: Path) -> None:
    assert Repo(git_repo).read("notes/latin1.txt") == "caf\ufffd cr\ufffdme\n"


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    write(tmp_path, "bom.py", "\ufeffx = 1\n")
    assert Repo(tmp_path).read("bom.py") == "x = 1\n"


def test_only_newline_splits_lines(tmp_path: Path) -> None:
    # Form feeds and U+2028 are not line breaks for editors, git or grep.
    write(tmp_path, "odd.txt", "a\x0cb\u2028c\nd\n")
    repo = Repo(tmp_path)
    assert repo.line_count("odd.txt") == 2
    assert repo.read("odd.txt", 2, 2) == "d\n"


def test_line_count_with_and_without_final_newline(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "one\ntwo\n")
    write(tmp_path, "b.txt", "one\ntwo")
    write(tmp_path, "c.txt", "one\n\n")
    repo = Repo(tmp_path)
    assert repo.line_count("a.txt") == 2
    assert repo.line_count("b.txt") == 2
    assert repo.line_count("c.txt") == 2
    assert repo.read("b.txt", 2) == "two"


def test_file_removed_after_listing_gives_a_clear_error(git_repo: Path) -> None:
    repo = Repo(git_repo)
    repo.files()
    (git_repo / "untracked.py").unlink()
    with pytest.raises(WorkspaceError, match=r"cannot read untracked\.py.*removed since the files"):
        repo.read("untracked.py")
