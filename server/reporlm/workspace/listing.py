"""Which files make up the repository: git's view when there is one, else a .gitignore-aware walk.

Both ways end in the same filter: regular text files inside the root, with their sizes. What the
filter drops (binary and UTF-16 files, names that are not UTF-8, links out of the tree...) is
kept with the reason, for status displays; a file that vanished meanwhile is simply gone.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from . import gitsafe
from .errors import WorkspaceError
from .text import SNIFF_BYTES, not_text_reason

log = logging.getLogger(__name__)

GIT_TIMEOUT_S = 120
# Folders of version-control systems: never part of the repository's content.
VCS_DIRS = frozenset({".git", ".hg", ".svn"})
MAX_GITIGNORE_BYTES = 1024 * 1024
"""Of a .gitignore file in a plain folder, only this much is read (the rest is logged and dropped)."""
MAX_GITIGNORE_LINE_CHARS = 4096
"""Longer lines of a .gitignore are skipped: no real rule is that long."""


@dataclass(frozen=True)
class Listing:
    files: dict[str, int]  # repo-relative POSIX path -> size in bytes, sorted by path
    is_git: bool
    links: frozenset[str] = frozenset()  # the listed files that are symbolic links (git grep skips them)
    skipped: dict[str, str] = field(default_factory=dict)
    """Candidates left out, path -> "skipped: <why>" (a name that is not UTF-8 is shown with
    its bad bytes escaped, \\xff)."""


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
        spec = _read_ignore_file(gitignore)
        return self if spec is None else _IgnoreRules((*self.layers, (folder, spec)))

    def ignored(self, path: str, *, is_dir: bool) -> bool:
        verdict: bool | None = None
        if self.layers:
            path = shown_path(path)  # a name that is not UTF-8 is matched as shown (RE2 takes UTF-8)
        for folder, spec in self.layers:
            relative = path[len(folder) + 1 :] if folder else path
            include = spec.check_file(relative + "/" if is_dir else relative).include
            if include is not None:
                verdict = include
        return bool(verdict)


def _read_ignore_file(gitignore: Path) -> GitIgnoreSpec | None:
    """The rules of one .gitignore (the repository's own, so untrusted): a line that is not a
    valid pattern is skipped with a logged reason, and the rules match through RE2, so no
    pattern can make matching a path slow."""
    try:
        with open(gitignore, "rb") as handle:
            data = handle.read(MAX_GITIGNORE_BYTES + 1)
    except OSError as exc:
        log.warning("cannot read %s: %s", gitignore, exc)
        return None
    if len(data) > MAX_GITIGNORE_BYTES:
        log.warning("%s is over %d bytes; only its first lines are used", gitignore, MAX_GITIGNORE_BYTES)
        data = data[: data.rfind(b"\n", 0, MAX_GITIGNORE_BYTES) + 1]
    patterns: list[GitIgnoreSpecPattern] = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if len(line) > MAX_GITIGNORE_LINE_CHARS:
            log.warning(
                "%s:%d: line of %d characters skipped (too long for a rule)", gitignore, number, len(line)
            )
            continue
        try:
            patterns.append(GitIgnoreSpecPattern(line))
        except Exception as exc:  # GitIgnorePatternError, or whatever else a malformed line raises
            log.warning("%s:%d: line %r skipped: %s", gitignore, number, line[:80], exc)
    try:
        return GitIgnoreSpec(patterns, backend="re2")
    except Exception as exc:
        log.warning("%s: its rules cannot be used, so they are not applied: %s", gitignore, exc)
        return None


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


def _text_file_info(root: Path, path: str) -> tuple[int, bool] | str:
    """(size, is a symlink) of `path` if it is a regular text file inside `root` (symlinks
    followed), else why not: "skipped: <reason>", or "" when it is gone.

    Runs once per file of the repository, hence plain `os` calls rather than pathlib.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept as surrogates: no database or JSON takes them
        return "skipped: the file name is not valid UTF-8"
    base = str(root)
    full = os.path.join(base, path)
    try:
        info = os.lstat(full)
        is_link = stat.S_ISLNK(info.st_mode)
        if is_link:
            real = os.path.realpath(full)
            if real != base and not real.startswith(base + os.sep):
                return "skipped: a symbolic link to outside the repository"
            info = os.stat(real)
        # Checked before opening: opening a FIFO would block.
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a special file (FIFO, socket or device)"
            return f"skipped: {'a symbolic link to ' if is_link else ''}{kind}"
        if info.st_size == 0:
            return 0, is_link
        with open(full, "rb", buffering=0) as handle:
            sample = handle.read(SNIFF_BYTES)
    except FileNotFoundError:
        return ""  # deleted since git listed it
    except PermissionError:
        return "skipped: permission denied"
    except (OSError, ValueError) as exc:  # a symlink loop, an I/O error
        return f"skipped: unreadable ({getattr(exc, 'strerror', None) or type(exc).__name__})"
    reason = not_text_reason(sample, complete=info.st_size <= SNIFF_BYTES)
    if reason is not None:
        return f"skipped: {reason}"
    return info.st_size, is_link


def is_text_file(root: Path, path: str) -> bool:
    return not isinstance(_text_file_info(root, path), str)


def shown_path(path: str) -> str:
    """A path as it can be shown and stored: bytes that are not UTF-8 escaped (\\xff)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _keep_text_files(
    root: Path, candidates: Iterable[str]
) -> tuple[dict[str, int], frozenset[str], dict[str, str]]:
    sizes: dict[str, int] = {}
    links: list[str] = []
    skipped: dict[str, str] = {}
    for path in sorted(candidates):
        found = _text_file_info(root, path)
        if isinstance(found, str):
            if found:
                skipped[shown_path(path)] = found
            continue
        sizes[path] = found[0]
        if found[1]:
            links.append(path)
    if skipped:
        log.info("%d files of %s not listed: %s", len(skipped), root, _summary(skipped))
    return sizes, frozenset(links), skipped


def _summary(skipped: dict[str, str]) -> str:
    counts: dict[str, int] = {}
    for reason in skipped.values():
        counts[reason] = counts.get(reason, 0) + 1
    return ", ".join(
        f"{count} {reason.removeprefix('skipped: ')}" for reason, count in sorted(counts.items())
    )


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
    files, links, skipped = _keep_text_files(root, candidates)
    log.debug("listed %d text files in %s (git: %s)", len(files), root, is_git)
    return Listing(files=files, is_git=is_git, links=links, skipped=skipped)
