"""`Repo`: the read-only handle on a repository that model-written code works with."""

from __future__ import annotations

import copy
import difflib
import logging
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import WorkspaceError
from .globs import compile_glob
from .languages import language_of
from .listing import VCS_DIRS, Listing, is_text_file, list_files
from .paths import is_under, to_relative
from .search import Hit, Matcher
from .text import decode, split_lines
from .tree import human_size, render_tree

log = logging.getLogger(__name__)

# Larger files are generated data or logs far more often than code; grep skips them.
GREP_MAX_FILE_BYTES = 5 * 1024 * 1024
SUMMARY_TREE_LINES = 60
MAX_SUGGESTIONS = 5


@dataclass(frozen=True)
class RepoSummary:
    file_count: int
    total_bytes: int
    languages: dict[str, int]  # language name -> file count, most common first
    tree: str  # top-level tree with file counts and sizes

    def __str__(self) -> str:
        langs = ", ".join(f"{name} {count}" for name, count in self.languages.items()) or "none recognised"
        return (
            f"{self.file_count} files, {human_size(self.total_bytes)}\n"
            f"languages (files): {langs}\n"
            f"{self.tree}"
        )


class _SharedListing:
    """The file listing of one root, computed once and shared by a Repo and its scoped views."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._listing: Listing | None = None

    def get(self) -> Listing:
        with self._lock:
            if self._listing is None:
                self._listing = list_files(self.root)
            return self._listing

    def refresh(self) -> None:
        listing = list_files(self.root)
        with self._lock:
            self._listing = listing


def _stem(path: str) -> str:
    name = path.rpartition("/")[2]
    return name.partition(".")[0] if not name.startswith(".") else name


def _check_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WorkspaceError(f"{name} must be an int, not {type(value).__name__}")
    return value


class Repo:
    """Read-only access to the text files of a repository (or of one folder of it, its scope).

    Paths in and out are repo-relative POSIX paths, also in a scoped view, so `path:line`
    citations mean the same thing everywhere. `overlay` maps paths to the text of unsaved
    editor buffers; it is read at each call, so a mapping the caller keeps updated stays live.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        scope: str | None = None,
        overlay: Mapping[str, str] | None = None,
    ) -> None:
        given = Path(root).expanduser().absolute()
        resolved = given.resolve()
        if not resolved.is_dir():
            raise WorkspaceError(f"not a folder: {root}")
        self.root: Path = resolved
        self._given_root = given
        self._overlay_source: Mapping[str, str] = overlay if overlay is not None else {}
        self._shared = _SharedListing(resolved)
        self.scope: str | None = None
        if scope is not None:
            self.scope = self._folder(scope, role="scope") or None

    def __repr__(self) -> str:
        scope = f", scope={self.scope!r}" if self.scope else ""
        return f"Repo({str(self.root)!r}{scope})"

    @property
    def is_git(self) -> bool:
        """Whether the files come from git (tracked + untracked-not-ignored)."""
        return self._shared.get().is_git

    # ----- the API the model uses -----

    def files(self, pattern: str = "**/*", under: str | None = None) -> list[str]:
        """Text files matching the glob `pattern`, optionally only below folder `under`.

        `*.py` matches at any depth; a pattern with "/" matches the whole path, and when
        `under` is given it may also be written relative to that folder.
        """
        folder = (self.scope or "") if under is None else self._folder(under, role="under", allow_file=True)
        match = compile_glob(pattern)
        cut = len(folder) + 1 if folder else 0
        return [
            path
            for path in self._sizes()
            if is_under(path, folder) and (match(path) or (cut and match(path[cut:])))
        ]

    def read(self, path: str, start: int | None = None, end: int | None = None) -> str:
        """The text of `path`, or of its lines `start`..`end` (1-based, inclusive, clamped)."""
        rel = self._file(path)
        text = self._text(rel)
        if start is None and end is None:
            return text
        lines = split_lines(text)
        count = len(lines)
        first = 1 if start is None else max(1, _check_int(start, "start"))
        last = count if end is None else min(count, _check_int(end, "end"))
        if first > count:
            if count == 0 and first == 1:
                return ""
            raise WorkspaceError(f"start line {start} is past the end of {rel}, which has {count} lines")
        if last < first:
            raise WorkspaceError(f"end line {end} is before start line {first} (reading {rel})")
        return "".join(lines[first - 1 : last])

    def grep(
        self,
        regex: str,
        glob: str | None = None,
        under: str | None = None,
        max_results: int = 200,
    ) -> list[Hit]:
        """Lines matching the Python regular expression `regex`, one Hit per line, file by file.

        Stops after `max_results` hits. Files over 5 MB are skipped.
        """
        matcher = Matcher(regex)
        if _check_int(max_results, "max_results") < 1:
            raise WorkspaceError(f"max_results must be at least 1, not {max_results}")
        paths = self.files(glob or "**/*", under)
        overlay = self._overlay()
        sizes = self._sizes()
        hits: list[Hit] = []
        skipped = 0
        for path in paths:
            if sizes[path] > GREP_MAX_FILE_BYTES:
                skipped += 1
                continue
            text = overlay.get(path)
            if text is None:
                try:
                    text = decode((self.root / path).read_bytes())
                except OSError as exc:
                    log.warning("grep: cannot read %s: %s", path, exc)
                    continue
            for number, shown in matcher.lines(text):
                hits.append(Hit(path, number, shown))
                if len(hits) >= max_results:
                    return hits
        if skipped:
            log.info("grep skipped %d files larger than %d bytes", skipped, GREP_MAX_FILE_BYTES)
        return hits

    def tree(self, under: str | None = None, depth: int = 2) -> str:
        """Folders (and files) below `under`, `depth` levels deep, with file counts and sizes."""
        if _check_int(depth, "depth") < 0:
            raise WorkspaceError(f"depth must be 0 or more, not {depth}")
        folder = (self.scope or "") if under is None else self._folder(under, role="under")
        return self._render(folder, depth)

    def scoped(self, folder: str) -> Repo:
        """A view of this repository that sees only the files below `folder` (repo-relative)."""
        view = copy.copy(self)
        view.scope = self._folder(folder, role="scope") or self.scope
        return view

    def summary(self) -> RepoSummary:
        sizes = self._view_sizes()
        counts = Counter(lang for lang in map(language_of, sizes) if lang is not None)
        languages = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        folder = self.scope or ""
        # Two levels when that stays short; otherwise the top level alone, complete.
        tree = self._render(folder, 2, max_entries=12, max_lines=10_000)
        if tree.count("\n") >= SUMMARY_TREE_LINES:
            tree = self._render(folder, 1, max_entries=40, max_lines=SUMMARY_TREE_LINES)
        return RepoSummary(
            file_count=len(sizes),
            total_bytes=sum(sizes.values()),
            languages=languages,
            tree=tree,
        )

    def line_count(self, path: str) -> int:
        """Number of lines of `path` (a last line without newline counts), for checking citations."""
        return len(split_lines(self._text(self._file(path))))

    def refresh(self) -> None:
        """List the files again (after files were added, removed or renamed on disk)."""
        self._shared.refresh()

    # ----- internals -----

    def _rel(self, path: str) -> str:
        return to_relative(self.root, path, given_root=self._given_root)

    def _overlay(self) -> dict[str, str]:
        """Unsaved buffers by repo-relative path; buffers outside the root are not ours."""
        result: dict[str, str] = {}
        for key, text in dict(self._overlay_source).items():
            try:
                rel = self._rel(key)
            except WorkspaceError:
                log.debug("overlay path outside the repository ignored: %s", key)
                continue
            if rel and isinstance(text, str):
                result[rel] = text
        return result

    def _sizes(self) -> dict[str, int]:
        """All visible files of the repository with their sizes, sorted by path.

        Unsaved buffers replace their file's size; one for a file not yet on disk adds it.
        Buffers for ignored or binary files on disk stay out, like the files themselves.
        """
        listed = self._shared.get().files
        overlay = self._overlay()
        if not overlay:
            return listed
        sizes = dict(listed)
        added = False
        for rel, text in overlay.items():
            if rel in sizes or not os.path.lexists(self.root / rel):
                added = added or rel not in sizes
                sizes[rel] = len(text.encode("utf-8", "surrogatepass"))
        return dict(sorted(sizes.items())) if added else sizes

    def _text(self, rel: str) -> str:
        """The text of a listed file: its unsaved buffer if there is one, else the file on disk."""
        text = self._overlay().get(rel)
        if text is not None:
            return text
        try:
            return decode((self.root / rel).read_bytes())
        except OSError as exc:
            raise WorkspaceError(
                f"cannot read {rel}: {exc.strerror or exc} (if it was removed, call repo.refresh())"
            ) from None

    def _view_sizes(self, folder: str | None = None) -> dict[str, int]:
        folder = folder if folder is not None else self.scope or ""
        return {path: size for path, size in self._sizes().items() if is_under(path, folder)}

    def _render(self, folder: str, depth: int, *, max_entries: int = 25, max_lines: int = 200) -> str:
        label = folder or self.root.name
        return render_tree(
            self._view_sizes(folder),
            base=folder,
            label=label,
            depth=depth,
            max_entries=max_entries,
            max_lines=max_lines,
        )

    def _check_scope(self, rel: str, given: object) -> None:
        if self.scope and not is_under(rel, self.scope):
            raise WorkspaceError(
                f"path is outside the scope of this view ({self.scope}/): {given} "
                "(paths are relative to the repository root)"
            )

    def _file(self, path: str) -> str:
        """The repo-relative path of a readable file in view, or a WorkspaceError saying why not."""
        rel = self._rel(path)
        if not rel:
            raise WorkspaceError("the repository root is a folder, not a file; see repo.tree()")
        self._check_scope(rel, path)
        if rel in self._sizes():
            return rel
        raise self._not_a_file(rel)

    def _not_a_file(self, rel: str) -> WorkspaceError:
        full = self.root / rel
        if full.is_dir():
            return WorkspaceError(f"{rel} is a folder, not a file; list it with repo.files(under={rel!r})")
        if os.path.lexists(full):
            real = os.path.relpath(os.path.realpath(full), self.root).replace(os.sep, "/")
            if real != rel and real in self._sizes():
                return WorkspaceError(f"{rel} is a symbolic link to {real}; read {real} instead")
            vcs = next((part for part in rel.split("/") if part in VCS_DIRS), None)
            if vcs:
                return WorkspaceError(f"{rel} is version-control metadata ({vcs}), not a repository file")
            if not is_text_file(self.root, rel):
                return WorkspaceError(f"{rel} is a binary or special file; only text files can be read")
            return WorkspaceError(
                f"{rel} exists but is ignored (.gitignore or git's exclude rules), so it is not part "
                "of the repository's files (or it is new: call repo.refresh())"
            )
        suggestions = self._close_matches(rel)
        hint = f". Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        return WorkspaceError(f"no such file: {rel}{hint}")

    def _close_matches(self, rel: str) -> list[str]:
        paths = list(self._view_sizes())
        by_stem: dict[str, list[str]] = defaultdict(list)
        for path in paths:
            by_stem[_stem(path)].append(path)
        # The right name in the wrong folder (or with another extension) is the commonest slip.
        # Stems are compared without extensions, which would make unrelated names look alike.
        candidates = list(by_stem.get(_stem(rel), []))
        if not candidates:
            for close in difflib.get_close_matches(_stem(rel), list(by_stem), n=MAX_SUGGESTIONS, cutoff=0.7):
                candidates += by_stem[close]
        if not candidates:
            return difflib.get_close_matches(rel, paths, n=MAX_SUGGESTIONS, cutoff=0.7)
        ratio = lambda path: difflib.SequenceMatcher(None, rel, path).ratio()  # noqa: E731
        return sorted(candidates, key=ratio, reverse=True)[:MAX_SUGGESTIONS]

    def _folder(self, folder: str, *, role: str, allow_file: bool = False) -> str:
        """A repo-relative folder in view ("" for the root) that holds at least one file."""
        rel = self._rel(folder)
        if not rel:
            return self.scope or ""
        self._check_scope(rel, folder)
        sizes = self._sizes()
        if any(is_under(path, rel) and path != rel for path in sizes):
            return rel
        if rel in sizes:
            if allow_file:
                return rel
            raise WorkspaceError(f"{role} must be a folder, but {rel} is a file")
        if (self.root / rel).is_dir():
            raise WorkspaceError(f"folder {rel} has no text files (all are ignored or binary)")
        folders = {path[:i] for path in self._view_sizes() for i, ch in enumerate(path) if ch == "/"}
        close = difflib.get_close_matches(rel, sorted(folders), n=MAX_SUGGESTIONS, cutoff=0.6)
        hint = f". Did you mean: {', '.join(close)}?" if close else ""
        raise WorkspaceError(f"no such folder: {rel}{hint}")
