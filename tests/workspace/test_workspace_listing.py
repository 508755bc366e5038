"""Which files a Repo sees: git's view, the .gitignore-aware walk, binaries, symlinks, caching."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from workspace_helpers import git, write

from reporlm.workspace import Repo, WorkspaceError

GIT_REPO_FILES = [
    ".gitignore",
    "README.md",
    "crlf.py",
    "docs/guide.md",
    "notes/latin1.txt",
    "src/app.py",
    "src/pkg/__init__.py",
    "src/pkg/deep/nested.py",
    "src/pkg/util.py",
    "untracked.py",
]

PLAIN_FILES = [
    ".gitignore",
    "a.py",
    "alias.py",
    "keep.tmp",
    "other/secret.txt",
    "sub/.gitignore",
    "sub/ok.txt",
]


def test_git_repo_lists_tracked_and_untracked_text_files(git_repo: Path) -> None:
    repo = Repo(git_repo)
    assert repo.is_git
    # Untracked kept; ignored (debug.log, build/), binary (data.bin), deleted (gone.py) dropped.
    assert repo.files() == GIT_REPO_FILES


def test_git_listing_keeps_tracked_files_that_match_gitignore(git_repo: Path) -> None:
    write(git_repo, "tracked.log", "forced\n")
    git(git_repo, "add", "-f", "tracked.log")
    assert "tracked.log" in Repo(git_repo).files()


def test_git_listing_skips_nested_repositories_and_empty_dirs(git_repo: Path) -> None:
    nested = git_repo / "vendor" / "other"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    write(nested, "lib.py", "x = 1\n")
    (git_repo / "empty").mkdir()
    files = Repo(git_repo).files()
    assert not any(path.startswith(("vendor", "empty")) for path in files)


def test_git_listing_of_a_subfolder_is_relative_to_it(git_repo: Path) -> None:
    repo = Repo(git_repo / "src")
    assert repo.is_git
    assert repo.files() == ["app.py", "pkg/__init__.py", "pkg/deep/nested.py", "pkg/util.py"]


def test_ignored_folder_of_a_work_tree_is_walked(git_repo: Path) -> None:
    repo = Repo(git_repo / "build")
    assert not repo.is_git
    assert repo.files() == ["out.py"]


def test_empty_git_repo_has_no_files(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    repo = Repo(tmp_path)
    assert repo.is_git
    assert repo.files() == []


def test_git_environment_of_the_caller_is_ignored(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A server started from a git hook inherits GIT_DIR/GIT_INDEX_FILE pointing elsewhere.
    monkeypatch.setenv("GIT_DIR", "/nonexistent/.git")
    monkeypatch.setenv("GIT_INDEX_FILE", "/nonexistent/index")
    assert Repo(git_repo).files() == GIT_REPO_FILES


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_git_repo_owned_by_another_user_is_walked_with_the_fix_named(
    git_repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # git refuses it ("dubious ownership"): its .git/config could run programs as us.
    for path in [git_repo, *git_repo.rglob("*")]:
        os.lchown(path, 65534, 65534)
    repo = Repo(git_repo)
    assert not repo.is_git
    assert repo.files() == GIT_REPO_FILES
    assert f"git config --global --add safe.directory {git_repo}" in caplog.text


def test_without_git_installed_a_repo_is_walked(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    repo = Repo(git_repo)
    assert not repo.is_git
    # The walk honours .gitignore; it cannot know that gone.py was tracked, nor see it.
    assert repo.files() == GIT_REPO_FILES


def test_plain_folder_honours_gitignore_and_skips_git_binaries_and_symlink_escapes(
    plain_folder: Path,
) -> None:
    repo = Repo(plain_folder)
    assert not repo.is_git
    # Not listed: b.tmp, node_modules/ (root .gitignore), sub/secret.txt (sub/.gitignore),
    # img.png (binary), .git/, loop/ (dir symlink), ping/pong (loop), outlink.txt and outdir/
    # (outside), linked_sub/ (symlinked folders are not entered, as in git).
    assert repo.files() == PLAIN_FILES


def test_special_files_are_skipped_without_blocking(plain_folder: Path) -> None:
    os.mkfifo(plain_folder / "pipe.txt")
    assert Repo(plain_folder).files() == PLAIN_FILES


def test_listing_is_cached_until_refresh(plain_folder: Path) -> None:
    repo = Repo(plain_folder)
    assert "new.py" not in repo.files()
    write(plain_folder, "new.py", "x = 1\n")
    (plain_folder / "a.py").unlink()
    assert "new.py" not in repo.files()
    repo.refresh()
    files = repo.files()
    assert "new.py" in files
    assert "a.py" not in files


def test_scoped_views_share_the_listing_and_its_refresh(plain_folder: Path) -> None:
    repo = Repo(plain_folder)
    sub = repo.scoped("sub")
    write(plain_folder, "sub/more.txt", "more\n")
    repo.refresh()
    assert "sub/more.txt" in sub.files()


def test_root_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="not a folder"):
        Repo(tmp_path / "missing")
    write(tmp_path, "file.txt", "x\n")
    with pytest.raises(WorkspaceError, match="not a folder"):
        Repo(tmp_path / "file.txt")


def test_root_given_through_a_symlink(git_repo: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(git_repo, target_is_directory=True)
    repo = Repo(link)
    assert repo.root == git_repo.resolve()
    assert repo.files() == GIT_REPO_FILES
    # Absolute paths are accepted in either spelling of the root.
    assert repo.read(str(link / "src/pkg/util.py")) == repo.read(str(git_repo / "src/pkg/util.py"))
