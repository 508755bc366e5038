"""repo.grep asks git which files hold a literal the regex needs; the answers must not change."""

from __future__ import annotations

from pathlib import Path

import pytest
from workspace_helpers import git, write

from reporlm.workspace import Repo
from reporlm.workspace import search as search_module
from reporlm.workspace.search import required_literal


@pytest.mark.parametrize(
    ("regex", "literal"),
    [
        ("Piecewise", "Piecewise"),
        (r"def\s+foo_bar", "foo_bar"),
        (r"foo(bar)+baz", "foo"),
        (r"ab\.cd", "ab.cd"),
        ("a|bcdef", None),  # alternation: no single literal is required
        ("(?i)hello", None),  # case-insensitive
        ("x?yz", None),  # too short to be worth it
        ("(?:abc)*def", "def"),
        ("[", None),  # invalid: the Matcher reports it
    ],
)
def test_required_literal(regex: str, literal: str | None) -> None:
    assert required_literal(regex) == literal


@pytest.mark.parametrize("use_git", [True, False])
def test_prefiltered_grep_finds_the_same_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_git: bool
) -> None:
    root = tmp_path / "r"
    for i in range(30):
        write(root, f"m{i}.py", f"value_{i} = {i}\n" + ("needle_here = True\n" if i % 7 == 0 else ""))
    write(root, "ignored.log", "needle_here\n")
    write(root, ".gitignore", "*.log\n")
    if use_git:
        git(root, "init", "-q")
        git(root, "add", "m0.py", "m7.py")  # the others stay untracked, still part of the repository
    overlay = {"m1.py": "needle_here = 'unsaved'\n"}
    patterns = [r"needle_\w+ =", r"^value_2\d", "needle_here = 'unsaved'", "nothing_matches_this"]
    plain = Repo(root, overlay=overlay)
    expected = {p: plain.grep(p) for p in patterns}
    monkeypatch.setattr(search_module, "PREFILTER_MIN_FILES", 0)
    asked: list[str] = []
    real = search_module.candidate_files

    def spy(*args: object, **kwargs: object) -> set[str] | None:
        found = real(*args, **kwargs)  # type: ignore[arg-type]
        asked.append("used" if found is not None else "skipped")
        return found

    monkeypatch.setattr("reporlm.workspace.repo.candidate_files", spy)
    filtered = Repo(root, overlay=overlay)
    assert {p: filtered.grep(p) for p in patterns} == expected
    assert asked.count("used") == 4
    assert [h.path for h in expected[r"needle_\w+ ="]] == [
        "m0.py",
        "m1.py",
        "m14.py",
        "m21.py",
        "m28.py",
        "m7.py",
    ]
