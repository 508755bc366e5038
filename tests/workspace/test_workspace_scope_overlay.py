"""Scoped views (what a child RLM sees) and overlays (unsaved editor buffers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reporlm.workspace import Hit, Repo, WorkspaceError


def test_scoped_view_sees_only_its_folder_with_repo_relative_paths(git_repo: Path) -> None:
    sub = Repo(git_repo).scoped("src/pkg")
    assert sub.scope == "src/pkg"
    assert sub.root == git_repo.resolve()
    assert sub.files() == ["src/pkg/__init__.py", "src/pkg/deep/nested.py", "src/pkg/util.py"]
    assert sub.files("*.py") == sub.files()
    assert sub.read("src/pkg/util.py").startswith("def helper_util")
    assert sub.line_count("src/pkg/util.py") == 2
    assert {h.path for h in sub.grep("helper")} == {"src/pkg/util.py"}
    assert sub.tree().startswith("src/pkg/  (3 files, ")
    assert sub.summary().file_count == 3
    assert repr(sub).endswith("scope='src/pkg')")


def test_scoped_view_refuses_paths_outside_its_scope(git_repo: Path) -> None:
    sub = Repo(git_repo).scoped("src/pkg")
    for call in (
        lambda: sub.read("src/app.py"),
        lambda: sub.line_count("README.md"),
        lambda: sub.grep("x", under="docs"),
        lambda: sub.files(under="src"),
        lambda: sub.tree("docs"),
        lambda: sub.scoped("docs"),
    ):
        with pytest.raises(WorkspaceError, match=r"outside the scope of this view \(src/pkg/\)"):
            call()
    with pytest.raises(WorkspaceError, match="outside the repository"):
        sub.read("../x")


def test_scoped_view_suggests_only_files_in_scope(git_repo: Path) -> None:
    sub = Repo(git_repo).scoped("src")
    with pytest.raises(WorkspaceError, match=r"Did you mean: src/app\.py\?$"):
        sub.read("src/ap.py")


def test_scopes_nest_and_the_root_means_the_current_scope(git_repo: Path) -> None:
    src = Repo(git_repo).scoped("src")
    deep = src.scoped("src/pkg/deep")
    assert deep.files() == ["src/pkg/deep/nested.py"]
    assert src.scoped(".").scope == "src"
    assert src.files(under=".") == src.files()


def test_scope_from_the_constructor(git_repo: Path) -> None:
    repo = Repo(git_repo, scope="./docs/")
    assert repo.scope == "docs"
    assert repo.files() == ["docs/guide.md"]
    assert Repo(git_repo, scope="").scope is None


def test_unknown_empty_or_file_scope_is_an_error(git_repo: Path) -> None:
    repo = Repo(git_repo)
    with pytest.raises(WorkspaceError, match=r"no such folder: srcc\. Did you mean: src"):
        repo.scoped("srcc")
    with pytest.raises(WorkspaceError, match="folder build has no text files"):
        repo.scoped("build")
    (git_repo / "empty").mkdir()
    with pytest.raises(WorkspaceError, match="folder empty has no text files"):
        repo.scoped("empty")
    with pytest.raises(WorkspaceError, match=r"scope must be a folder, but src/app\.py is a file"):
        repo.scoped("src/app.py")
    with pytest.raises(WorkspaceError, match="outside the repository"):
        Repo(git_repo, scope="..")


def test_scoped_view_does_not_change_its_parent(git_repo: Path) -> None:
    repo = Repo(git_repo)
    repo.scoped("src")
    assert repo.scope is None
    assert len(repo.files()) == 10


def test_overlay_text_is_used_for_read_grep_and_line_count(git_repo: Path) -> None:
    overlay = {"src/pkg/util.py": "def helper_util(x):\n    # unsaved edit\n    return x * 3\n"}
    repo = Repo(git_repo, overlay=overlay)
    assert repo.read("src/pkg/util.py", 2, 2) == "    # unsaved edit\n"
    assert repo.line_count("src/pkg/util.py") == 3
    assert repo.grep("unsaved") == [Hit("src/pkg/util.py", 2, "    # unsaved edit")]
    assert Repo(git_repo).grep("unsaved") == []


def test_overlay_keys_may_be_absolute_and_outside_keys_are_ignored(git_repo: Path, tmp_path: Path) -> None:
    overlay = {
        str(git_repo / "src" / "app.py"): "changed\n",
        str(tmp_path / "elsewhere.py"): "not ours\n",
    }
    repo = Repo(git_repo, overlay=overlay)
    assert repo.read("src/app.py") == "changed\n"
    assert "elsewhere.py" not in repo.files()


def test_overlay_adds_new_unsaved_files_but_not_ignored_ones(git_repo: Path) -> None:
    overlay = {"src/new_module.py": "def fresh():\n    pass\n", "debug.log": "buffer of an ignored file\n"}
    repo = Repo(git_repo, overlay=overlay)
    assert "src/new_module.py" in repo.files()
    assert repo.grep("fresh") == [Hit("src/new_module.py", 1, "def fresh():")]
    assert "debug.log" not in repo.files()
    with pytest.raises(WorkspaceError, match="ignored"):
        repo.read("debug.log")


def test_overlay_mapping_is_read_live_and_shared_with_scoped_views(git_repo: Path) -> None:
    overlay: dict[str, str] = {}
    repo = Repo(git_repo, overlay=overlay)
    sub = repo.scoped("src")
    assert "TODO" not in repo.read("src/app.py")
    overlay["src/app.py"] = "# TODO: edited\n"
    assert repo.read("src/app.py") == "# TODO: edited\n"
    assert sub.grep("TODO") == [Hit("src/app.py", 1, "# TODO: edited")]
    assert sub.summary().total_bytes == sum(len(repo.read(p).encode()) for p in sub.files())
