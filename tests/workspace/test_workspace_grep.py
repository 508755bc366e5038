"""Repo.grep and Repo.files: regex per line, globs, folders, limits, errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from workspace_helpers import write

from reporlm.workspace import Hit, Repo, WorkspaceError
from reporlm.workspace.search import MAX_HIT_CHARS, Matcher
from reporlm.workspace.text import split_lines


def test_grep_returns_one_hit_per_matching_line_in_path_order(git_repo: Path) -> None:
    hits = Repo(git_repo).grep(r"helper")
    assert hits == [
        Hit("docs/guide.md", 3, "Use helper()."),
        Hit("src/app.py", 6, "    return helper()"),
        Hit("src/app.py", 9, "def helper():"),
        Hit("src/pkg/util.py", 1, "def helper_util(x):"),
    ]
    assert str(hits[1]) == "src/app.py:6:     return helper()"


def test_grep_anchors_work_per_line(git_repo: Path) -> None:
    repo = Repo(git_repo)
    assert [(h.path, h.line) for h in repo.grep(r"^def \w+\(\):$")] == [("src/app.py", 4), ("src/app.py", 9)]
    # \A is the start of each line: search is line by line (multiline off).
    assert [h.line for h in repo.grep(r"\Adef", glob="app.py")] == [4, 9]
    # A dot never crosses lines.
    assert repo.grep(r"hello.*return") == []


def test_grep_strips_crlf_and_dollar_matches_before_it(git_repo: Path) -> None:
    assert Repo(git_repo).grep(r"= 2$") == [Hit("crlf.py", 2, "second = 2")]


def test_grep_glob_matches_names_at_any_depth(git_repo: Path) -> None:
    repo = Repo(git_repo)
    paths = {h.path for h in repo.grep(r".", glob="*.py")}
    assert paths == {"crlf.py", "src/app.py", "src/pkg/util.py", "src/pkg/deep/nested.py", "untracked.py"}
    assert {h.path for h in repo.grep(r".", glob="src/*.py")} == {"src/app.py"}
    assert {h.path for h in repo.grep(r".", glob="src/**/*.py")} == {
        "src/app.py",
        "src/pkg/util.py",
        "src/pkg/deep/nested.py",
    }
    assert {h.path for h in repo.grep(r".", glob="*.{md,txt}")} == {
        "README.md",
        "docs/guide.md",
        "notes/latin1.txt",
    }


def test_grep_under_limits_to_a_folder(git_repo: Path) -> None:
    repo = Repo(git_repo)
    assert {h.path for h in repo.grep(r"helper", under="src/pkg")} == {"src/pkg/util.py"}
    assert {h.path for h in repo.grep(r"helper", under="./src/pkg/")} == {"src/pkg/util.py"}
    # A file works as `under` too.
    assert {h.path for h in repo.grep(r"helper", under="src/app.py")} == {"src/app.py"}
    # A glob may be written relative to `under`.
    assert {h.path for h in repo.grep(r".", glob="deep/*.py", under="src/pkg")} == {"src/pkg/deep/nested.py"}


def test_grep_unknown_folder_is_an_error(git_repo: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"no such folder: src/pkgs\. Did you mean: src/pkg"):
        Repo(git_repo).grep("x", under="src/pkgs")
    with pytest.raises(WorkspaceError, match="outside the repository"):
        Repo(git_repo).grep("x", under="..")


def test_grep_stops_at_max_results(git_repo: Path) -> None:
    repo = Repo(git_repo)
    everything = repo.grep(r".")
    assert len(everything) > 5
    assert repo.grep(r".", max_results=5) == everything[:5]
    assert len(repo.grep(r".", max_results=1)) == 1
    with pytest.raises(WorkspaceError, match="max_results must be at least 1"):
        repo.grep(r".", max_results=0)


def test_invalid_regex_reports_the_error(git_repo: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"invalid regular expression '\(unclosed': missing \)"):
        Repo(git_repo).grep("(unclosed")


def test_regex_must_be_a_string(git_repo: Path) -> None:
    with pytest.raises(WorkspaceError, match="regular expression must be a string"):
        Repo(git_repo).grep(None)  # type: ignore[arg-type]


def test_long_lines_are_cut_around_the_match(tmp_path: Path) -> None:
    write(tmp_path, "min.js", "a" * 1000 + "NEEDLE" + "b" * 1000 + "\n" + "NEEDLE" + "c" * 1000 + "\n")
    hits = Repo(tmp_path).grep("NEEDLE")
    assert [h.line for h in hits] == [1, 2]
    assert all(len(h.text) <= MAX_HIT_CHARS + 2 for h in hits)
    assert "NEEDLE" in hits[0].text
    assert hits[0].text.startswith("…")
    assert hits[0].text.endswith("…")
    assert hits[1].text.startswith("NEEDLE")


def test_files_over_five_megabytes_are_skipped_by_grep(tmp_path: Path) -> None:
    write(tmp_path, "huge.txt", "needle\n" + "x" * (5 * 1024 * 1024))
    write(tmp_path, "small.txt", "needle\n")
    repo = Repo(tmp_path)
    assert "huge.txt" in repo.files()
    assert repo.grep("needle") == [Hit("small.txt", 1, "needle")]


def test_grep_skips_ignored_and_binary_files(git_repo: Path) -> None:
    paths = {h.path for h in Repo(git_repo).grep(r"generated|log line|binary")}
    assert paths == set()


@pytest.mark.parametrize(
    "regex",
    [
        r"^b",
        r"b$",
        r"\s+$",
        r"a\s*b",
        r"[^x]+c",
        r"\Ab",
        r"c\Z",
        r"(?s)a.b",
        r"\bb\b",
        r"",
    ],
)
def test_block_search_finds_exactly_the_matching_lines(regex: str) -> None:
    text = "a\nb\r\nab \nc\na  \nx b c\n"
    expected = [
        n for n, line in enumerate(split_lines(text), start=1) if re.search(regex, line.rstrip("\r\n"))
    ]
    assert [n for n, _ in Matcher(regex).lines(text)] == expected


def test_files_pattern_and_under(git_repo: Path) -> None:
    repo = Repo(git_repo)
    assert repo.files("*.md") == ["README.md", "docs/guide.md"]
    assert repo.files("**/*.md") == ["README.md", "docs/guide.md"]
    assert repo.files("*.py", under="src/pkg") == [
        "src/pkg/__init__.py",
        "src/pkg/deep/nested.py",
        "src/pkg/util.py",
    ]
    assert repo.files("src/*") == ["src/app.py"]
    assert repo.files("src/**") == [p for p in repo.files() if p.startswith("src/")]
    assert repo.files("*", under="docs") == ["docs/guide.md"]
    assert repo.files("test_?.py") == []
    assert repo.files("[cu]*.py") == ["crlf.py", "src/pkg/util.py", "untracked.py"]
    assert repo.files("[!cu]*.py") == ["src/app.py", "src/pkg/__init__.py", "src/pkg/deep/nested.py"]


def test_files_bad_glob_is_an_error(git_repo: Path) -> None:
    with pytest.raises(WorkspaceError, match="unclosed"):
        Repo(git_repo).files("*.{py,md")
    with pytest.raises(WorkspaceError, match="empty glob"):
        Repo(git_repo).files("")
