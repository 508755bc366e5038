"""repo.grep's shortcuts (git's grep for the lines holding a literal the regex needs, the
search of whole blocks of lines) must find exactly the lines a plain line-by-line search finds."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from workspace_helpers import git, write

from reporlm.workspace import Repo
from reporlm.workspace import search as search_module
from reporlm.workspace.search import Matcher, required_literal
from reporlm.workspace.text import split_lines


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
        ("caf\u00e9 cr\u00e8me", "caf\u00e9 cr\u00e8me"),
        ("abc\ufffd", None),  # the replacement character stands for any undecodable bytes
        ("\ud800abcd", None),  # a lone surrogate is in no file's bytes
    ],
)
def test_required_literal(regex: str, literal: str | None) -> None:
    assert required_literal(regex) == literal


class _GitSpy:
    """Counts how often git's grep was asked and how often its answer was used."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.used = self.refused = 0
        real = search_module.git_lines

        def spy(*args: object, **kwargs: object) -> search_module.GitLines | None:
            found = real(*args, **kwargs)  # type: ignore[arg-type]
            if found is None:
                self.refused += 1
            else:
                self.used += 1
            return found

        monkeypatch.setattr(search_module, "git_lines", spy)


@pytest.mark.parametrize("use_git", [True, False])
def test_git_assisted_grep_finds_the_same_lines(
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
    spy = _GitSpy(monkeypatch)
    filtered = Repo(root, overlay=overlay)
    assert {p: filtered.grep(p) for p in patterns} == expected
    # A folder that is not a work tree is never searched by git: its view of it differs.
    assert (spy.used, spy.refused) == ((4, 0) if use_git else (0, 0))
    assert [h.path for h in expected[r"needle_\w+ ="]] == [
        "m0.py",
        "m1.py",
        "m14.py",
        "m21.py",
        "m28.py",
        "m7.py",
    ]


def _hostile_repo(root: Path) -> None:
    """Files where git's view and ours could part: encodings, line ends, links, attributes."""
    write(root, ".gitattributes", "*.svg binary\n")
    write(root, ".gitignore", "*.log\n")
    write(root, "plain.py", "needle = 1\ndef needle_fn():\n    return needle\n")
    write(root, "crlf.py", "needle = 1\r\nx = needle\r\n\r\nneedle\r\n")
    write(root, "bom.py", "\ufeffneedle at the start\nneedle again\n\ufeffneedle after a mid-file BOM\n")
    write(root, "latin1.txt", "caf\xe9 needle cr\xe8me\n".encode("latin-1"))
    write(root, "utf8.txt", "caf\u00e9 needle cr\u00e8me\n")
    write(root, "invalid.txt", b"ok needle \xff\xfe tail\n\xc3needle\n")
    write(root, "late_nul.txt", b"x\n" * 5000 + b"needle \x00 after the sniffed bytes\nneedle\n")
    write(root, "minified.js", "var a=1;" * 2000 + "needle();" + "var b=2;" * 2000 + "\n")
    write(root, "picture.svg", "<svg>needle</svg>\n")  # text, but binary to git by attribute
    write(root, "many.txt", "needle line\n" * 50)
    # More lines with the literal than git reports per file, before the one line that matches.
    write(root, "crowded.py", "needle_value = 0\n" * 45 + "def needle_late():\n")
    write(root, "huge.txt", "needle\n" + "x" * (5 * 1024 * 1024))
    write(root, "dir with space/[odd] name:1.py", "needle = 'odd'\n")
    write(root, "dir with space/other.py", "no match here\n")
    write(root, "notes.log", "needle in an ignored file\n")
    write(root, "tracked_then_edited.py", "old text\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    write(root, "tracked_then_edited.py", "needle = 'edited, not committed'\n")
    write(root, "untracked.py", "needle = 'untracked'\n")
    (root / "alias.py").symlink_to("plain.py")  # git's grep skips symlinks


PATTERNS = [
    "needle",
    r"needle\b",
    r"^needle",
    r"needle$",
    r"def\s+needle_\w+",
    "caf\u00e9 needle",
    r"(?s)needle.",
    r"needle\s",
    r"\Aneedle",
    r"x = needle",
    "needle after",
]


@pytest.mark.parametrize("max_results", [1, 3, 40, 10_000])
def test_git_assisted_grep_matches_line_by_line_on_hostile_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_results: int
) -> None:
    root = tmp_path / "hostile"
    _hostile_repo(root)
    overlay = {"plain.py": "unsaved needle\n", "new_buffer.py": "needle in a new buffer\n"}
    monkeypatch.setattr(search_module, "PREFILTER_MIN_FILES", 10**9)
    expected = {p: Repo(root, overlay=overlay).grep(p, max_results=max_results) for p in PATTERNS}
    monkeypatch.setattr(search_module, "PREFILTER_MIN_FILES", 0)
    spy = _GitSpy(monkeypatch)
    assert {p: Repo(root, overlay=overlay).grep(p, max_results=max_results) for p in PATTERNS} == expected
    assert (spy.used, spy.refused) == (len(PATTERNS), 0)
    if max_results == 10_000:
        found = {(h.path, h.line) for h in expected["needle"]}
        # Every case where git's answer alone would have been wrong is in the reference.
        assert {
            ("alias.py", 1),
            ("picture.svg", 1),
            ("plain.py", 1),
            ("new_buffer.py", 1),
            ("untracked.py", 1),
            ("tracked_then_edited.py", 1),
            ("late_nul.txt", 5001),
            ("bom.py", 1),
            ("dir with space/[odd] name:1.py", 1),
        } <= found
        assert not any(path in ("huge.txt", "notes.log") for path, _ in found)
        assert len([h for h in expected["needle"] if h.path == "many.txt"]) == 50
        assert ("crowded.py", 46) in {(h.path, h.line) for h in expected[r"def\s+needle_\w+"]}


def test_git_assisted_grep_honours_under_glob_and_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "hostile"
    _hostile_repo(root)
    calls = [
        dict(regex="needle", under="dir with space"),
        dict(regex="needle", under="dir with space/[odd] name:1.py"),
        dict(regex="needle", glob="*.py"),
        dict(regex="needle", glob="dir with space/*"),
    ]
    monkeypatch.setattr(search_module, "PREFILTER_MIN_FILES", 10**9)
    expected = [Repo(root).grep(**call) for call in calls] + [
        Repo(root).scoped("dir with space").grep("needle")
    ]
    monkeypatch.setattr(search_module, "PREFILTER_MIN_FILES", 0)
    spy = _GitSpy(monkeypatch)
    found = [Repo(root).grep(**call) for call in calls] + [Repo(root).scoped("dir with space").grep("needle")]
    assert found == expected
    assert spy.used == len(found)
    assert [h.path for h in expected[0]] == ["dir with space/[odd] name:1.py"]


def test_too_much_git_output_falls_back_to_reading_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "hostile"
    _hostile_repo(root)
    monkeypatch.setattr(search_module, "PREFILTER_MIN_FILES", 10**9)
    expected = Repo(root).grep("needle", max_results=10_000)
    monkeypatch.setattr(search_module, "PREFILTER_MIN_FILES", 0)
    monkeypatch.setattr(search_module, "GIT_OUTPUT_LIMIT", 100)
    spy = _GitSpy(monkeypatch)
    assert Repo(root).grep("needle", max_results=10_000) == expected
    assert (spy.used, spy.refused) == (0, 1)


def test_a_folder_ignored_by_its_work_tree_is_searched_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Opened on purpose (a virtualenv, say), it is listed as a plain folder; git would see
    # nothing in it, so its answer must not be asked for.
    root = tmp_path / "project"
    write(root, ".gitignore", "venv/\n")
    write(root, "venv/lib/site.py", "needle = 1\n")
    git(root, "init", "-q")
    monkeypatch.setattr(search_module, "PREFILTER_MIN_FILES", 0)
    repo = Repo(root / "venv")
    assert not repo.is_git
    assert [(h.path, h.line) for h in repo.grep("needle")] == [("lib/site.py", 1)]


_WHOLE_TEXT_PATTERNS = [
    r"a",
    r"ab",
    r"^a",
    r"b$",
    r"a\s*b",
    r"a[^x]*b",
    r"\s+",
    r"^$",
    r"",
    r"(?m)^b",
    r"(?s)a.b",
    r"(?i)A b",
    r"\bb\b",
    r"\Bb",
    r"a\nb",
    r"\Ab",
    r"b\Z",
]


def test_block_search_finds_exactly_the_matching_lines() -> None:
    chooser = random.Random(20240611)
    alphabet = ["a", "b", " ", "\n", "\r\n", "x", "\r", "é"]
    for _ in range(400):
        text = "".join(chooser.choice(alphabet) for _ in range(chooser.randrange(0, 30)))
        for regex in _WHOLE_TEXT_PATTERNS:
            pattern = re.compile(regex, re.ASCII)  # RE2's \w, \b, \s are ASCII
            expected = [
                (number, line.rstrip("\r\n"))
                for number, line in enumerate(split_lines(text), start=1)
                if pattern.search(line.rstrip("\r\n"))
            ]
            assert Matcher(regex).lines(text) == expected, (regex, text)
