"""Repo.tree and Repo.summary: counts, sizes, depth, bounded output."""

from __future__ import annotations

from pathlib import Path

import pytest
from workspace_helpers import write

from reporlm.workspace import Repo, RepoSummary, WorkspaceError
from reporlm.workspace.languages import language_of
from reporlm.workspace.repo import BRIEF_TREE_LINES
from reporlm.workspace.tree import human_size


def test_tree_shows_folders_then_files_with_counts_and_sizes(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "x" * 10)
    write(tmp_path, "src/a.py", "a" * 100)
    write(tmp_path, "src/b.py", "b" * 100)
    write(tmp_path, "src/pkg/c.py", "c" * 2048)
    write(tmp_path, "tests/test_a.py", "t" * 5)
    assert Repo(tmp_path).tree() == (
        f"{tmp_path.name}/  (5 files, 2.2 KiB)\n"
        "  src/  (3 files, 2.2 KiB)\n"
        "    pkg/  (1 file, 2.0 KiB)\n"
        "    a.py  (100 B)\n"
        "    b.py  (100 B)\n"
        "  tests/  (1 file, 5 B)\n"
        "    test_a.py  (5 B)\n"
        "  README.md  (10 B)"
    )


def test_tree_depth_and_under(git_repo: Path) -> None:
    repo = Repo(git_repo)
    top = repo.tree(depth=1).splitlines()
    assert top[0] == "gitrepo/  (10 files, " + top[0].split(", ", 1)[1]
    assert "  src/  (4 files, " in "\n".join(top)
    assert not any(line.startswith("    ") for line in top)
    deep = repo.tree("src", depth=3)
    assert deep.splitlines()[0].startswith("src/  (4 files, ")
    assert "    deep/  (1 file, 15 B)" in deep
    assert "      nested.py  (15 B)" in deep
    assert repo.tree(depth=0).count("\n") == 0


def test_tree_errors(git_repo: Path) -> None:
    repo = Repo(git_repo)
    with pytest.raises(WorkspaceError, match="no such folder"):
        repo.tree("nope")
    with pytest.raises(WorkspaceError, match=r"under must be a folder, but src/app\.py is a file"):
        repo.tree("src/app.py")
    with pytest.raises(WorkspaceError, match="depth must be 0 or more"):
        repo.tree(depth=-1)
    with pytest.raises(WorkspaceError, match="folder build has no text files"):
        repo.tree("build")


def test_tree_collapses_long_folders_keeping_the_largest(tmp_path: Path) -> None:
    for i in range(40):
        write(tmp_path, f"many/f{i:02d}.txt", "x" * (i + 1))
    lines = Repo(tmp_path).tree("many").splitlines()
    assert len(lines) == 1 + 25 + 1
    assert "  f39.txt  (40 B)" in lines
    assert "  f00.txt  (1 B)" not in lines
    assert lines[-1] == "  … 15 more entries (15 files, 120 B)"
    shown = [line.split()[0] for line in lines[1:-1]]
    assert shown == sorted(shown)


def test_tree_output_is_bounded(tmp_path: Path) -> None:
    for i in range(30):
        for j in range(20):
            write(tmp_path, f"d{i:02d}/f{j:02d}.txt", "x")
    out = Repo(tmp_path).tree()
    assert out.count("\n") <= 201
    assert out.endswith("narrow it with under= or a smaller depth")


def test_human_size() -> None:
    assert human_size(0) == "0 B"
    assert human_size(1023) == "1023 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(5 * 1024 * 1024) == "5.0 MiB"


def test_summary(git_repo: Path) -> None:
    repo = Repo(git_repo)
    summary = repo.summary()
    assert isinstance(summary, RepoSummary)
    assert summary.file_count == len(repo.files()) == 10
    assert summary.total_bytes == sum((git_repo / p).stat().st_size for p in repo.files())
    assert summary.languages == {"Python": 6, "Markdown": 2, "Text": 1}
    assert list(summary.languages) == ["Python", "Markdown", "Text"]
    assert summary.tree.startswith("gitrepo/  (10 files, ")
    assert "    pkg/  (3 files, " in summary.tree
    text = str(summary)
    assert text.startswith("10 files, ")
    assert "languages (files): Python 6, Markdown 2, Text 1" in text


def test_summary_tree_falls_back_to_one_level_when_long(tmp_path: Path) -> None:
    for i in range(12):
        for j in range(12):
            write(tmp_path, f"d{i:02d}/f{j:02d}.py", "x")
    tree = Repo(tmp_path).summary().tree
    assert tree.count("\n") == 12
    assert "  d11/  (12 files, 12 B)" in tree


def test_a_folders_only_summary_goes_as_deep_as_fits_and_lists_no_files(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "x")
    write(tmp_path, "src/pkg/core/a.py", "a")
    write(tmp_path, "src/pkg/b.py", "b")
    write(tmp_path, "tests/test_b.py", "t")
    assert Repo(tmp_path).summary(folders_only=True).tree == (
        f"{tmp_path.name}/  (4 files, 4 B)\n"
        "  src/  (2 files, 2 B)\n"
        "    pkg/  (2 files, 2 B)\n"
        "      core/  (1 file, 1 B)\n"
        "  tests/  (1 file, 1 B)"
    )
    # Too many folders three deep for the brief tree's lines: fewer levels, never a cut tree.
    for i in range(12):
        for j in range(3):
            write(tmp_path, f"d{i:02d}/e{j}/f.py", "x")
    tree = Repo(tmp_path).summary(folders_only=True).tree
    assert tree.count("\n") < BRIEF_TREE_LINES and ".py" not in tree and "cut at" not in tree
    assert "  d00/  (3 files, 3 B)" in tree and "… 6 more entries" in tree and "e0/" not in tree


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("a.py", "Python"),
        ("web/App.tsx", "TSX"),
        ("x.ts", "TypeScript"),
        ("lib.rs", "Rust"),
        ("main.go", "Go"),
        ("inc/x.hpp", "C++"),
        ("x.h", "C"),
        ("Prog.cs", "C#"),
        ("s.SH", "Bash"),
        ("Dockerfile", "Dockerfile"),
        ("sub/Makefile", "Makefile"),
        ("CMakeLists.txt", "CMake"),
        (".gitignore", None),
        ("LICENSE", None),
        ("x.unknownext", None),
    ],
)
def test_language_of(path: str, language: str | None) -> None:
    assert language_of(path) == language
