"""Hostile patterns and files: what a model's regexes and globs, or a repository's own files,
could do to the host, and the refusal or recovery each gets.

Each pattern below runs for hours (or exhausts memory) with a backtracking matcher or a
whole-file read; here it must finish, which `finishes` checks with a generous guard against
hangs (never a speed check).
"""

from __future__ import annotations

import logging
import os
import resource
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from workspace_helpers import git, write

from reporlm.workspace import Hit, Repo, WorkspaceError
from reporlm.workspace.limits import MAX_READ_BYTES, WorkspaceTimeout, deadline
from reporlm.workspace.regex import LinearRegex
from reporlm.workspace.search import Matcher, grep_files

HANG_GUARD_SECONDS = 60.0


def finishes(call: Callable[[], Any]) -> Any:
    """Run `call` in a thread; fail the test (instead of hanging the suite) if it never returns."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_SECONDS)
    if thread.is_alive():
        pytest.fail(f"still running after {HANG_GUARD_SECONDS:g} s: the call hangs")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- 1. patterns that make a backtracking matcher run forever ---------------------------------------


def test_catastrophic_regex_finishes(tmp_path: Path) -> None:
    write(tmp_path, "long.txt", "a" * 5000 + "\n" + "ab" * 3000 + "\n")
    write(tmp_path, "hit.txt", "xxQ\n")
    repo = Repo(tmp_path)
    assert finishes(lambda: repo.grep(r"(.|.)*Q")) == [Hit("hit.txt", 1, "xxQ")]
    assert finishes(lambda: repo.grep(r"(a|aa)*(a|b)*c")) == []
    assert finishes(lambda: repo.grep(r"^(\w+\s?)*$", glob="hit.txt")) == [Hit("hit.txt", 1, "xxQ")]


def test_catastrophic_glob_finishes(tmp_path: Path) -> None:
    deep = "/".join(["d" * 40] * 20)
    write(tmp_path, f"{deep}/{'a' * 200}.txt", "x\n")
    write(tmp_path, "Z", "z\n")
    repo = Repo(tmp_path)
    glob = "**/" + "**?" * 14 + "Z"
    assert finishes(lambda: repo.files(glob)) == []
    assert finishes(lambda: repo.files("*" * 30 + "Z")) == ["Z"]
    assert finishes(lambda: repo.grep("x", glob="*a*a*a*a*a*a*a*a*a*a*a*a*a*b")) == []


def test_many_wildcards_in_a_symbol_name_pattern_finish(tmp_path: Path) -> None:
    write(tmp_path, "gen.py", "".join(f"def {'a' * 200}{i}():\n    pass\n" for i in range(50)))
    repo = Repo(tmp_path, persist_index=False)
    assert finishes(lambda: repo.symbols(name="?*" * 60 + "Z")) == []
    assert len(finishes(lambda: repo.symbols(name="a*a*a*a*a*a*a*a*a*a*a*1?"))) == 10
    with pytest.raises(WorkspaceError, match="characters long"):
        repo.files("*" * 10_000)


def test_catastrophic_gitignore_line_in_a_plain_folder_finishes(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "a*" * 40 + "b\n*.tmp\n")
    write(tmp_path, "a" * 120, "long name\n")
    write(tmp_path, "x.tmp", "ignored\n")
    write(tmp_path, "kept.py", "x = 1\n")
    repo = Repo(tmp_path)
    assert not repo.is_git
    assert finishes(repo.files) == [".gitignore", "a" * 120, "kept.py"]


def test_unsupported_syntax_is_refused_with_what_to_do_instead(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "x = 1\n")
    repo = Repo(tmp_path)
    for regex, construct in [
        (r"(?<=def )\w+", "lookbehind"),
        (r"foo(?!bar)", "lookahead"),
        (r"(a)\1", "backreferences"),
        (r"(?P<q>a)(?P=q)", "backreference"),
        (r"a++", "possessive"),
        (r"(?>a)", "atomic"),
    ]:
        with pytest.raises(WorkspaceError, match=construct) as caught:
            repo.grep(regex)
        assert "RE2 syntax" in str(caught.value) and "Python's re" in str(caught.value)


def test_python_spellings_work(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "caf\u00e9 = 1\nend\nx = {a}\n")
    repo = Repo(tmp_path)
    assert [h.line for h in repo.grep(r"caf\u00e9")] == [1]
    assert [h.line for h in repo.grep(r"d\Z")] == [2]
    assert [h.line for h in repo.grep(r"\Aend$")] == [2]
    assert [h.line for h in repo.grep(r"x{,1} = \{a\}")] == [3]
    assert [h.line for h in repo.grep(r"(?P<name>caf)")] == [1]
    assert [h.line for h in repo.grep(r"[[:alpha:]]{3}\b")] == [1, 2]
    assert [h.line for h in repo.grep(r"\pL{4} =")] == [1]


def test_huge_programs_and_patterns_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "x\n")
    repo = Repo(tmp_path)
    with pytest.raises(WorkspaceError, match="too complex"):
        repo.grep(r"(.{0,999}.{0,999})Q")
    with pytest.raises(WorkspaceError, match="characters long"):
        repo.grep("a" * 20_000)
    with pytest.raises(WorkspaceError, match="at most 100,000"):
        repo.grep("x", max_results=10**9)
    with pytest.raises(WorkspaceError, match="invalid glob"):
        LinearRegex("(", lines=False, role="glob '('")


def test_a_deadline_stops_a_grep_and_says_how_far_it_got(tmp_path: Path) -> None:
    for i in range(5):
        write(tmp_path, f"f{i}.py", "x = 1\n")
    repo = Repo(tmp_path)
    paths = repo.files()
    with deadline(0), pytest.raises(WorkspaceTimeout, match=r"out of time: matching the glob '\*\*/\*\.py'"):
        repo.files("**/*.py")
    with deadline(0), pytest.raises(WorkspaceTimeout, match="out of time"):
        repo.grep("x")
    sizes = dict.fromkeys(paths, 6)
    with (
        deadline(0),
        pytest.raises(WorkspaceTimeout, match=r"repo.grep had searched 0 of 5 files \(0 hits\)"),
    ):
        grep_files(tmp_path, paths, sizes, {}, Matcher("x"), max_results=10, git=None)
    assert len(repo.grep("x")) == 5, "no deadline outside the block"


# -- 3. one size cap for every read path ----------------------------------------------------------


@pytest.fixture
def sparse_repo(tmp_path: Path) -> Path:
    """Text at the start, then a 2 GB hole: sniffed as text, listed with its real size."""
    root = tmp_path / "repo"
    write(root, "big.log", "first line\nsecond line\nERROR third\n" + "filler\n" * 2000)
    with open(root / "big.log", "r+b") as handle:
        handle.truncate(2 * 1024**3)
    write(root, "app.py", "def main():\n    return 1\n")
    return root


def test_a_2gb_file_is_refused_whole_and_read_by_line_range(sparse_repo: Path) -> None:
    before = peak_rss_mb()
    repo = Repo(sparse_repo)
    assert "big.log" in repo.files()
    with pytest.raises(
        WorkspaceError, match=r"big\.log is 2\.0 GiB, over the 5\.0 MiB read limit.*line range"
    ):
        repo.read("big.log")
    assert repo.read("big.log", 2, 3) == "second line\nERROR third\n"
    assert repo.read("big.log", 1, 1) == "first line\n"
    # grep skips it in a general search...
    assert repo.grep("ERROR") == []
    # ...and streams it (up to its scan limit) when asked about that file alone.
    assert finishes(lambda: repo.grep("ERROR", under="big.log")) == [Hit("big.log", 3, "ERROR third")]
    with pytest.raises(WorkspaceError, match=r"over the 5\.0 MiB read limit; read fewer lines"):
        repo.read("big.log", 2000, 2010)  # the next "line" is the 2 GB hole
    with pytest.raises(WorkspaceError, match=r"over the 5\.0 MiB read limit"):
        repo.line_count("big.log")
    assert peak_rss_mb() - before < 400, "nothing read the whole file"


def test_a_file_that_grew_after_listing_is_still_capped(tmp_path: Path) -> None:
    write(tmp_path, "grow.txt", "small\n")
    repo = Repo(tmp_path)
    assert repo.read("grow.txt") == "small\n"
    write(tmp_path, "grow.txt", "needle\n" + "x" * (MAX_READ_BYTES + 10))
    with pytest.raises(WorkspaceError, match=r"over the 5\.0 MiB read limit"):
        repo.read("grow.txt")
    assert repo.grep("needle") == []


def test_a_large_unsaved_buffer_is_capped_like_a_file(tmp_path: Path) -> None:
    write(tmp_path, "app.py", "def main():\n    pass\n")
    buffer = "def unsaved():\n    pass\n" * (8 * 1024 * 1024 // 24)
    repo = Repo(tmp_path, overlay={"app.py": buffer}, persist_index=False)
    with pytest.raises(WorkspaceError, match=r"the unsaved editor buffer of app\.py is 8\.0 MiB"):
        repo.read("app.py")
    assert repo.grep("unsaved") == []
    assert finishes(lambda: repo.symbols(path="app.py")) == [], "too large to parse, like a file"
    assert repo.outline("app.py").startswith("app.py: no outline")
    with pytest.raises(WorkspaceError, match=r"over the 5\.0 MiB read limit"):
        repo.line_count("app.py")


def test_references_skip_lines_of_files_over_the_cap(tmp_path: Path) -> None:
    write(tmp_path, "lib.py", "def helper():\n    return 1\n")
    write(tmp_path, "use.py", "from lib import helper\nhelper()\n")
    repo = Repo(tmp_path, overlay={"use.py": "helper()\n" + "#" * (MAX_READ_BYTES + 1)}, persist_index=False)
    hits = repo.references("helper")
    assert all(h.path != "use.py" or h.text == "" for h in hits)


# -- 6. names, ignore lines and files the listing cannot take ---------------------------------------


def _bad_name(root: Path) -> None:
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(os.fsencode(root), b"bad\xff.py"), "wb") as handle:
        handle.write(b"x = 1\n")


@pytest.mark.parametrize("use_git", [True, False])
def test_a_file_name_that_is_not_utf8_is_skipped_with_a_reason(tmp_path: Path, use_git: bool) -> None:
    root = tmp_path / "repo"
    write(root, "good.py", "def good():\n    return 1\n")
    write(root, ".gitignore", "*.tmp\n")  # ignore rules are matched against the bad name too
    _bad_name(root)
    if use_git:
        git(root, "init", "-q")
    repo = Repo(root, cache_dir=tmp_path / "cache")
    assert repo.is_git is use_git
    assert repo.files() == [".gitignore", "good.py"]
    repo.start_indexing()
    assert [s.name for s in repo.symbols()] == ["good"], "the index builds"
    status = repo.index_status()
    assert status.state == "ready"
    assert status.skipped["bad\\xff.py"] == "skipped: the file name is not valid UTF-8"
    summary = str(repo.summary())
    summary.encode("utf-8")  # what goes to a provider can be encoded
    repo.close()


def test_binary_and_utf16_files_are_listed_as_skipped(tmp_path: Path) -> None:
    write(tmp_path, "logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(tmp_path, "notes.txt", "notes in UTF-16\n".encode("utf-16"))
    write(tmp_path, "le.txt", "no byte-order mark\n".encode("utf-16-le"))
    write(tmp_path, "ok.py", "x = 1\n")
    repo = Repo(tmp_path, persist_index=False)
    assert repo.files() == ["ok.py"]
    repo.start_indexing()
    repo.symbols()
    assert repo.index_status().skipped == {
        "logo.png": "skipped: binary",
        "notes.txt": "skipped: UTF-16 text",
        "le.txt": "skipped: UTF-16 text",
    }


def test_a_bad_gitignore_line_is_skipped_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, ".gitignore", "\\\n*.tmp\n" + "x" * 5000 + "\n")
    write(tmp_path, "a.tmp", "ignored\n")
    write(tmp_path, "a.py", "x = 1\n")
    with caplog.at_level(logging.WARNING, logger="reporlm.workspace.listing"):
        assert Repo(tmp_path).files() == [".gitignore", "a.py"]
    assert any(".gitignore:1: line '\\\\' skipped" in r.getMessage() for r in caplog.records)
    assert any(".gitignore:3: line of 5000 characters skipped" in r.getMessage() for r in caplog.records)
