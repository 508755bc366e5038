"""Binary sniffing, line splitting and glob translation."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from workspace_helpers import write

from reporlm.workspace import Repo, WorkspaceError
from reporlm.workspace.globs import compile_glob
from reporlm.workspace.text import SNIFF_BYTES, looks_binary, split_lines


def test_looks_binary() -> None:
    assert looks_binary(b"text\x00more")
    assert not looks_binary(b"")
    assert not looks_binary("plain UTF-8 — déjà vu\n".encode())
    assert not looks_binary("caf\xe9\n".encode("latin-1"), complete=True)
    rng = random.Random(1)
    noise = bytes(rng.randrange(1, 256) for _ in range(4096))
    assert looks_binary(noise, complete=True)
    assert looks_binary(b"\x01\x02\x03\x04 header \xff\x05\x06\x07\x08", complete=True)
    # Control bytes alone do not make valid UTF-8 binary (git agrees: only NUL does).
    assert not looks_binary(b"\x01\x02 header \x05\x06", complete=True)


def test_a_character_cut_by_the_sample_is_not_an_error() -> None:
    sample = ("a" * (SNIFF_BYTES - 1) + "é").encode()[:SNIFF_BYTES]
    assert not looks_binary(sample, complete=False)
    assert looks_binary(sample, complete=True) is False  # one bad byte in 8 KiB is still text


def test_utf16_and_nul_bearing_files_are_not_listed(tmp_path: Path) -> None:
    write(tmp_path, "utf16.txt", "hello".encode("utf-16"))
    write(tmp_path, "ok.txt", "hello\n")
    write(tmp_path, "late_nul.txt", "x" * (SNIFF_BYTES + 10) + "\x00")
    # A NUL past the first 8 KiB is not looked for, as in git.
    assert Repo(tmp_path).files() == ["late_nul.txt", "ok.txt"]


def test_split_lines() -> None:
    assert split_lines("") == []
    assert split_lines("a") == ["a"]
    assert split_lines("a\n") == ["a\n"]
    assert split_lines("a\r\nb") == ["a\r\n", "b"]
    assert split_lines("\n\n") == ["\n", "\n"]


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.py", "a.py", True),
        ("*.py", "x/y/a.py", True),
        ("*.py", "a.pyc", False),
        ("a?.py", "ab.py", True),
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/x/a.py", False),
        ("src/**/*.py", "src/a.py", True),
        ("src/**/*.py", "src/x/y/a.py", True),
        ("**/test_*.py", "test_a.py", True),
        ("**/test_*.py", "t/test_a.py", True),
        ("src/**", "src/x/y", True),
        ("src/**", "srcx/y", False),
        ("/src/*.py", "src/a.py", True),
        ("./src/*.py", "src/a.py", True),
        ("*.{ts,tsx}", "web/App.tsx", True),
        ("*.{ts,tsx}", "web/App.js", False),
        ("[ab].py", "b.py", True),
        ("[!ab].py", "b.py", False),
        ("a+b(c).py", "a+b(c).py", True),
        ("**", "any/thing", True),
    ],
)
def test_glob(pattern: str, path: str, expected: bool) -> None:
    assert compile_glob(pattern)(path) is expected


def test_bad_globs() -> None:
    with pytest.raises(WorkspaceError, match="unclosed"):
        compile_glob("{a,b")
    with pytest.raises(WorkspaceError, match="empty glob"):
        compile_glob("  ")
