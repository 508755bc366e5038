"""Paths given by callers: accepted spellings, escapes from the root, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from reporlm.workspace import Repo, WorkspaceError


@pytest.mark.parametrize(
    "spelling",
    [
        "src/pkg/util.py",
        "./src/pkg/util.py",
        "src//pkg/./util.py",
        " src/pkg/util.py ",
        "src/pkg/../pkg/util.py",
    ],
)
def test_relative_spellings_are_accepted(git_repo: Path, spelling: str) -> None:
    assert Repo(git_repo).read(spelling).startswith("def helper_util")


def test_absolute_path_and_file_uri_inside_the_root(git_repo: Path) -> None:
    repo = Repo(git_repo)
    absolute = str(git_repo / "src" / "pkg" / "util.py")
    assert repo.read(absolute).startswith("def helper_util")
    assert repo.read(Path(absolute).as_uri()).startswith("def helper_util")


@pytest.mark.parametrize("path", ["../outside/secret.txt", "..", "src/../../x.py", "/etc/passwd"])
def test_paths_leaving_the_root_are_refused(plain_folder: Path, path: str) -> None:
    with pytest.raises(WorkspaceError, match="path is outside the repository"):
        Repo(plain_folder).read(path)


def test_absolute_path_of_a_sibling_with_a_common_prefix_is_outside(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj2").mkdir()
    (tmp_path / "proj2" / "x.py").write_text("x\n")
    with pytest.raises(WorkspaceError, match="outside the repository"):
        Repo(tmp_path / "proj").read(str(tmp_path / "proj2" / "x.py"))


@pytest.mark.parametrize("path", ["outlink.txt", "outdir/secret.txt"])
def test_symlinks_pointing_out_are_refused(plain_folder: Path, path: str) -> None:
    repo = Repo(plain_folder)
    with pytest.raises(WorkspaceError, match="path is outside the repository"):
        repo.read(path)
    with pytest.raises(WorkspaceError, match="path is outside the repository"):
        repo.line_count(path)


def test_symlink_inside_the_tree_is_readable(plain_folder: Path) -> None:
    repo = Repo(plain_folder)
    assert repo.read("alias.py") == repo.read("a.py")


def test_file_reached_through_a_symlinked_folder_names_the_real_path(plain_folder: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"symbolic link to sub/ok\.txt"):
        Repo(plain_folder).read("linked_sub/ok.txt")


def test_missing_file_suggests_close_matches(git_repo: Path) -> None:
    repo = Repo(git_repo)
    with pytest.raises(WorkspaceError, match=r"no such file: src/ap\.py\. Did you mean: src/app\.py"):
        repo.read("src/ap.py")
    # Right name, wrong folder.
    with pytest.raises(WorkspaceError, match=r"no such file: lib/util\.py\. Did you mean: src/pkg/util\.py"):
        repo.read("lib/util.py")
    with pytest.raises(WorkspaceError, match=r"^no such file: zzzzqqq$"):
        repo.read("zzzzqqq")


def test_ignored_binary_and_folder_paths_say_why(git_repo: Path) -> None:
    repo = Repo(git_repo)
    with pytest.raises(WorkspaceError, match=r"debug\.log exists but is ignored"):
        repo.read("debug.log")
    with pytest.raises(WorkspaceError, match=r"build/out\.py exists but is ignored"):
        repo.read("build/out.py")
    with pytest.raises(WorkspaceError, match=r"data\.bin is a binary"):
        repo.read("data.bin")
    with pytest.raises(WorkspaceError, match=r"src/pkg is a folder, not a file"):
        repo.read("src/pkg/")
    with pytest.raises(WorkspaceError, match="root is a folder"):
        repo.read(".")
    with pytest.raises(WorkspaceError, match=r"version-control metadata"):
        repo.read(".git/HEAD")


def test_deleted_tracked_file_is_missing(git_repo: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"no such file: gone\.py"):
        Repo(git_repo).read("gone.py")


def test_non_string_path_is_refused(git_repo: Path) -> None:
    with pytest.raises(WorkspaceError, match="must be a string"):
        Repo(git_repo).read(42)  # type: ignore[arg-type]
