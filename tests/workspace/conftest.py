"""Small repositories built on disk for the workspace tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from workspace_helpers import APP_PY, UTIL_PY, git, write


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A git repository with commits, ignores, untracked, binary and deleted files."""
    root = tmp_path / "gitrepo"
    root.mkdir()
    git(root, "init", "-q")
    write(root, "README.md", "# Demo\n\nA demo repository.\n")
    write(root, ".gitignore", "*.log\nbuild/\n")
    write(root, "src/app.py", APP_PY)
    write(root, "src/pkg/util.py", UTIL_PY)
    write(root, "src/pkg/deep/nested.py", "VALUE = 'deep'\n")
    write(root, "docs/guide.md", "# Guide\n\nUse helper().\n")
    write(root, "data.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    write(root, "gone.py", "x = 1\n")
    write(root, "crlf.py", "first = 1\r\nsecond = 2\r\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    write(root, "src/pkg/__init__.py", "")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "second")
    # Working-tree state on top of the commits.
    (root / "gone.py").unlink()  # deleted but still tracked
    write(root, "untracked.py", "NEW = True\n")
    write(root, "debug.log", "log line\n")  # ignored
    write(root, "build/out.py", "generated = 1\n")  # ignored folder
    write(root, "notes/latin1.txt", "caf\xe9 cr\xe8me\n".encode("latin-1"))
    return root


@pytest.fixture
def plain_folder(tmp_path: Path) -> Path:
    """A folder without git: .gitignore files, symlink loops, symlinks pointing outside."""
    outside = tmp_path / "outside"
    write(outside, "secret.txt", "top secret\n")
    root = tmp_path / "plain"
    root.mkdir()
    write(root, ".gitignore", "*.tmp\n!keep.tmp\nnode_modules/\n")
    write(root, "a.py", "def a():\n    return 'a'\n")
    write(root, "b.tmp", "ignored\n")
    write(root, "keep.tmp", "kept by negation\n")
    write(root, "node_modules/lib/index.js", "module.exports = 1;\n")
    write(root, "sub/.gitignore", "secret.txt\n")
    write(root, "sub/secret.txt", "ignored below sub\n")
    write(root, "sub/ok.txt", "fine\n")
    write(root, "other/secret.txt", "not ignored here\n")
    write(root, "img.png", b"\x89PNG\r\n\x1a\n\x00\x00")
    write(root, ".git/config", "not really a repository\n")
    (root / "loop").symlink_to(".", target_is_directory=True)  # a folder that contains itself
    (root / "ping").symlink_to("pong")  # a file symlink loop
    (root / "pong").symlink_to("ping")
    (root / "outlink.txt").symlink_to(outside / "secret.txt")
    (root / "outdir").symlink_to(outside, target_is_directory=True)
    (root / "alias.py").symlink_to("a.py")
    (root / "linked_sub").symlink_to("sub", target_is_directory=True)
    return root
