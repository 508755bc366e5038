"""Which files make up the repository: git's view when there is one, else a .gitignore-aware walk.

Both ways end in the same filter: regular text files inside the root, with their sizes.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from . import gitsafe
from .errors import WorkspaceError
from .text import SNIFF_BYTES, looks_binary

log = logging.getLogger(__name__)

GIT_TIMEOUT_S = 120
# Folders of version-control systems: never part of the repository's content.
VCS_DIRS = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True)
class Listing:
    files: dict[str, int]  # repo-relative POSIX path -> size in bytes, sorted by path
    is_git: bool
    links: frozenset[str] = frozenset()  # the listed files that are symbolic links (git grep skips them)


def _run_git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return gitsafe.run(root, *args, timeout=GIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise WorkspaceError(f"git took longer than {GIT_TIMEOUT_S} s to list the files of {root}") from None


def _git_candidates(root: Path) -> list[str] | None:
    """Paths git reports (tracked + untracked-not-ignored), or None if `root` is not in a work tree."""
    if shutil.which("git") is None:
        log.info("git is not installed; listing %s as a plain folder", root)
        return None
    try:
        probe = _run_git(root, "rev-parse", "--is-inside-work-tree")
    except WorkspaceError as exc:  # a configuration git cannot be run safely in
        log.warning("%s; listing it as a plain folder", exc)
        return None
    if probe.returncode != 0 or probe.stdout.strip() != b"true":
        message = probe.stderr.decode("utf-8", "replace").strip()
        refused = gitsafe.ownership_message(message, root)
        if refused is not None:
            log.warning("%s. Until then it is listed as a plain folder.", refused)
        elif probe.returncode != 0:
            log.debug("%s is not in a git work tree: %s", root, message)
        return None
    # Paths come relative to `root` even when it is a subfolder of the work tree.
    result = _run_git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise WorkspaceError(f"git could not list the files of {root}: {message}")
    names = result.stdout.decode("utf-8", "surrogateescape").split("\0")
    # Entries ending in "/" are nested repositories; unmerged files appear once per stage.
    return list(dict.fromkeys(name for name in names if name and not name.endswith("/")))


class _IgnoreRules:
    """The .gitignore files met on the way down, deepest last (a deeper file overrides)."""

    def __init__(self, layers: tuple[tuple[str, GitIgnoreSpec], ...] = ()) -> None:
        self.layers = layers

    def with_file(self, folder: str, gitignore: Path) -> _IgnoreRules:
        try:
            lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            log.warning("cannot read %s: %s", gitignore, exc)
            return self
        return _IgnoreRules((*self.layers, (folder, GitIgnoreSpec.from_lines(lines))))

    def ignored(self, path: str, *, is_dir: bool) -> bool:
        verdict: bool | None = None
        for folder, spec in self.layers:
            relative = path[len(folder) + 1 :] if folder else path
            include = spec.check_file(relative + "/" if is_dir else relative).include
            if include is not None:
                verdict = include
        return bool(verdict)


def _walk_candidates(root: Path) -> list[str]:
    """Files under `root`, honouring .gitignore files, without entering symlinked folders.

    Like git, a symlink is listed as an entry and never descended into: this rules out loops
    and escapes from the tree, and keeps one path per file.
    """
    found: list[str] = []
    pending: list[tuple[str, _IgnoreRules]] = [("", _IgnoreRules())]
    while pending:
        folder, rules = pending.pop()
        try:
            with os.scandir(root / folder if folder else root) as it:
                entries = sorted(it, key=lambda entry: entry.name)
        except OSError as exc:
            log.warning("cannot list %s: %s", root / folder, exc)
            continue
        if any(entry.name == ".gitignore" and entry.is_file() for entry in entries):
            rules = rules.with_file(folder, root / folder / ".gitignore")
        for entry in entries:
            path = f"{folder}/{entry.name}" if folder else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if entry.name not in VCS_DIRS and not rules.ignored(path, is_dir=True):
                    pending.append((path, rules))
            elif not rules.ignored(path, is_dir=False):
                found.append(path)
    return found


def _text_file_info(root: Path, path: str) -> tuple[int, bool] | None:
    """(size, is a symlink) of `path` if it is a regular text file inside `root` (symlinks
    followed), else None.

    Runs once per file of the repository, hence plain `os` calls rather than pathlib.
    """
    base = str(root)
    full = os.path.join(base, path)
    try:
        info = os.lstat(full)
        is_link = stat.S_ISLNK(info.st_mode)
        if is_link:
            real = os.path.realpath(full)
            if not real.startswith(base + os.sep):
                return None
            info = os.stat(real)
        # Checked before opening: opening a FIFO would block.
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size == 0:
            return 0, is_link
        with open(full, "rb", buffering=0) as handle:
            sample = handle.read(SNIFF_BYTES)
    except (OSError, ValueError):
        return None  # deleted since git listed it, unreadable, or a symlink loop
    if looks_binary(sample, complete=info.st_size <= SNIFF_BYTES):
        return None
    return info.st_size, is_link


def is_text_file(root: Path, path: str) -> bool:
    return _text_file_info(root, path) is not None


def _keep_text_files(root: Path, candidates: Iterable[str]) -> tuple[dict[str, int], frozenset[str]]:
    sizes: dict[str, int] = {}
    links: list[str] = []
    for path in sorted(candidates):
        found = _text_file_info(root, path)
        if found is not None:
            sizes[path] = found[0]
            if found[1]:
                links.append(path)
    return sizes, frozenset(links)


def list_files(root: Path) -> Listing:
    """List the text files of the repository at `root` (a resolved directory)."""
    candidates = _git_candidates(root)
    if candidates == [] and _run_git(root, "check-ignore", "-q", ".").returncode == 0:
        # `root` is an ignored folder of a work tree (a virtualenv, a build output) opened on
        # purpose: show its files rather than an empty view.
        log.info("%s is ignored by git; listing it as a plain folder", root)
        candidates = None
    is_git = candidates is not None
    if candidates is None:
        candidates = _walk_candidates(root)
    files, links = _keep_text_files(root, candidates)
    log.debug("listed %d text files in %s (git: %s)", len(files), root, is_git)
    return Listing(files=files, is_git=is_git, links=links)
