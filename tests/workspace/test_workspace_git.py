"""repo.git on repositories built here: commits, a branch, a rename, a shallow clone, a detached
HEAD, a submodule, a folder inside a work tree, and a folder that is no repository at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from workspace_helpers import git, write

from reporlm.workspace import Repo, WorkspaceError


@pytest.fixture
def history(tmp_path: Path) -> Path:
    root = tmp_path / "hist"
    root.mkdir()
    git(root, "init", "-q")
    write(root, "src/calc.py", "def add(a, b):\n    return a + b\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "add calc")
    write(root, "src/calc.py", "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    git(root, "commit", "-q", "-am", "add sub")
    git(root, "mv", "src/calc.py", "src/arith.py")
    git(root, "commit", "-q", "-m", "rename calc to arith")
    git(root, "checkout", "-q", "-b", "feature")
    write(root, "src/arith.py", "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return b - a\n")
    git(root, "commit", "-q", "-am", "swap sub")
    git(root, "checkout", "-q", "main")
    return root


def test_log_follows_renames_and_limits(history: Path) -> None:
    repo = Repo(history)
    assert [c.subject for c in repo.git.log()] == ["rename calc to arith", "add sub", "add calc"]
    assert [c.subject for c in repo.git.log("src/arith.py", n=2)] == ["rename calc to arith", "add sub"]
    commit = repo.git.log(n=1)[0]
    assert len(commit.sha) == 40 and commit.author == "Test" and commit.date[:2] == "20"
    with pytest.raises(WorkspaceError, match="positive int"):
        repo.git.log(n=0)


def test_blame_lines_and_ranges(history: Path) -> None:
    repo = Repo(history)
    lines = repo.git.blame("src/arith.py")
    assert [b.line for b in lines] == [1, 2, 3, 4, 5, 6]
    subjects = {c.sha: c.subject for c in repo.git.log()}
    assert subjects[lines[0].sha] == "add calc" and subjects[lines[4].sha] == "add sub"
    assert [b.text for b in repo.git.blame("src/arith.py", 5, 6)] == ["def sub(a, b):", "    return a - b"]
    with pytest.raises(WorkspaceError, match="no such path"):
        repo.git.blame("src/none.py")


def test_diff_and_show_between_branches(history: Path) -> None:
    repo = Repo(history)
    diff = repo.git.diff("main", "feature")
    assert "-    return a - b" in diff and "+    return b - a" in diff
    assert repo.git.diff("HEAD") == ""
    write(history, "src/arith.py", "changed\n")
    assert "+changed" in repo.git.diff("HEAD", path="src/arith.py")
    assert repo.git.show("feature", "src/arith.py").endswith("return b - a\n")
    assert "rename calc to arith" in repo.git.show("HEAD")
    assert repo.git.show("HEAD~2", "src/calc.py") == "def add(a, b):\n    return a + b\n"
    for bad in ("--output=/tmp/x", "", "-p"):
        with pytest.raises(WorkspaceError):
            repo.git.show(bad)
    with pytest.raises(WorkspaceError, match="outside the repository"):
        repo.git.show("HEAD", "../secret")


def test_head_status_and_detached_head(history: Path) -> None:
    repo = Repo(history)
    head = repo.git.head
    assert head.branch == "main" and not head.detached and not head.shallow and head.dirty == []
    assert head.subject == "rename calc to arith"
    write(history, "new.py", "x = 1\n")
    write(history, "src/arith.py", "changed\n")
    assert sorted((c.path, c.status) for c in repo.git.status()) == [
        ("new.py", "untracked"),
        ("src/arith.py", "modified"),
    ]
    assert repo.git.head.dirty == ["src/arith.py", "new.py"] or sorted(repo.git.head.dirty) == [
        "new.py",
        "src/arith.py",
    ]
    git(history, "checkout", "-q", "-f", "--detach", "HEAD~1")
    detached = repo.git.head
    assert detached.detached and detached.branch is None and detached.subject == "add sub"


def test_shallow_clone(history: Path, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{history}", str(clone))
    repo = Repo(clone)
    assert repo.git.head.shallow
    assert [c.subject for c in repo.git.log()] == ["swap sub"]
    assert len(repo.git.blame("src/arith.py")) == 6
    with pytest.raises(WorkspaceError, match="shallow"):
        repo.git.show("HEAD~1")


def test_a_folder_inside_a_work_tree_uses_its_own_paths(history: Path) -> None:
    repo = Repo(history / "src")
    assert [c.subject for c in repo.git.log("arith.py", n=1)] == ["rename calc to arith"]
    assert repo.git.show("HEAD", "arith.py").startswith("def add")
    write(history, "top.py", "x = 1\n")
    write(history, "src/inner.py", "y = 2\n")
    assert [c.path for c in repo.git.status()] == ["inner.py"]


def test_submodules_and_their_files(history: Path, tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    outer.mkdir()
    git(outer, "init", "-q")
    write(outer, "main.py", "import lib\n")
    git(outer, "add", "-A")
    git(outer, "commit", "-q", "-m", "outer")
    git(outer, "-c", "protocol.file.allow=always", "submodule", "add", "-q", f"file://{history}", "lib")
    git(outer, "commit", "-q", "-m", "add lib")
    repo = Repo(outer)
    assert [c.subject for c in repo.git.log(n=1)] == ["add lib"]
    assert repo.git.head.dirty == []
    assert "main.py" in repo.files()
    assert [s.name for s in repo.symbols()] == []  # main.py only imports; the submodule is its own repository


def test_not_a_git_repository(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    write(root, "a.py", "def a():\n    return 1\n")
    repo = Repo(root)
    for call in (lambda: repo.git.log(), lambda: repo.git.head, lambda: repo.git.diff("HEAD")):
        with pytest.raises(WorkspaceError, match="not a git repository"):
            call()
    assert [s.name for s in repo.symbols()] == ["a"]  # everything else still works
    assert repo.read("a.py").startswith("def a")


def test_empty_repository_has_no_head_yet(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q")
    write(root, "a.py", "x = 1\n")
    repo = Repo(root)
    head = repo.git.head
    assert head.sha is None and head.dirty == ["a.py"]
    assert repo.git.log() == []
