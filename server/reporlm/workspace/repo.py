"""`Repo`: the read-only handle on a repository that model-written code works with."""

from __future__ import annotations

import copy
import dataclasses
import difflib
import logging
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from . import codeintel
from .cache import index_path
from .errors import WorkspaceError
from .globs import compile_glob
from .grammars import GrammarSet, load_grammars
from .history import GitHistory, NotAGitRepository
from .index import MAX_INDEX_BYTES, IndexStatus, SymbolIndex
from .languages import language_of
from .limits import MAX_READ_BYTES, MAX_STREAM_BYTES, check_deadline, too_large
from .listing import VCS_DIRS, Listing, is_text_file, list_files
from .paths import is_under, to_relative
from .repomap import MapEntry, RepoGraph, is_peripheral, render_map
from .search import MAX_RESULTS, GitScope, Hit, Matcher, grep_files
from .symbols import (
    Caller,
    Importer,
    Match,
    Subclass,
    Symbol,
    kind_matcher,
    name_matcher,
    split_path_name,
    symbol,
)
from .text import count_lines, decode, split_lines, stream_line_range
from .tree import human_size, render_tree

log = logging.getLogger(__name__)
T = TypeVar("T")

SUMMARY_TREE_LINES = 60
BRIEF_TREE_LINES = 24
MAX_SUGGESTIONS = 5
MAX_OUTLINE_ENTRIES = 400
DEFAULT_MAP_TOKENS = 1500
_DEADLINE_EVERY = 2000
"""Long loops over paths check the caller's deadline once per this many paths."""


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


class _Services:
    """What a Repo and its scoped views share besides the listing: the symbol index, git, the
    reference graph. Each is made on first use."""

    def __init__(self, root: Path, cache_dir: Path | None, persist: bool) -> None:
        self.root = root
        self._db_path = index_path(root, cache_dir) if persist else None
        self._lock = threading.Lock()
        self._index: SymbolIndex | None = None
        self._git: GitHistory | NotAGitRepository | None = None
        self.graph: tuple[int, RepoGraph] | None = None  # (index generation, graph)

    @property
    def grammars(self) -> GrammarSet:
        return load_grammars()

    def index(self) -> SymbolIndex:
        with self._lock:
            if self._index is None:
                self._index = SymbolIndex(self.root, self._db_path, self.grammars)
            return self._index

    def git(self) -> GitHistory | NotAGitRepository:
        with self._lock:
            if self._git is None:
                self._git = GitHistory.open(self.root)
            return self._git

    def close(self) -> None:
        with self._lock:
            index, self._index = self._index, None
        if index is not None:
            index.close()


def _stem(path: str) -> str:
    name = path.rpartition("/")[2]
    return name.partition(".")[0] if not name.startswith(".") else name


def _buffer_size(text: str) -> int:
    """Bytes of an unsaved buffer as UTF-8; a buffer of more characters than the read limit is
    not encoded to find out by how much."""
    if len(text) > MAX_READ_BYTES:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


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
        cache_dir: str | os.PathLike[str] | None = None,
        persist_index: bool = True,
    ) -> None:
        given = Path(root).expanduser().absolute()
        resolved = given.resolve()
        if not resolved.is_dir():
            raise WorkspaceError(f"not a folder: {root}")
        self.root: Path = resolved
        self._given_root = given
        self._overlay_source: Mapping[str, str] = overlay if overlay is not None else {}
        self._shared = _SharedListing(resolved)
        self._services = _Services(
            resolved, Path(cache_dir).expanduser() if cache_dir is not None else None, persist_index
        )
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

    @property
    def git(self) -> GitHistory | NotAGitRepository:
        """History: log, blame, diff, show, head, status (see `history.GitHistory`)."""
        return self._services.git()

    # ----- the API the model uses -----

    def files(self, pattern: str = "**/*", under: str | None = None) -> list[str]:
        """Paths of the text files matching the glob `pattern` (`*.py` matches at any depth).

        A pattern with "/" matches the whole path, and when `under` (a folder) is given it may
        also be written relative to that folder. Example: `repo.files("*.py", under="src")`.
        """
        folder = (self.scope or "") if under is None else self._folder(under, role="under", allow_file=True)
        return self._files_in(pattern, folder)

    def _files_in(self, pattern: str, folder: str) -> list[str]:
        match = compile_glob(pattern)
        cut = len(folder) + 1 if folder else 0
        found: list[str] = []
        sizes = self._sizes()
        for n, path in enumerate(sizes):
            if n % _DEADLINE_EVERY == 0:
                check_deadline(f"matching the glob {pattern!r} had checked {n:,} of {len(sizes):,} paths")
            if is_under(path, folder) and (match(path) or (cut and match(path[cut:]))):
                found.append(path)
        return found

    def read(self, path: str, start: int | None = None, end: int | None = None) -> str:
        """The text of file `path`, or only its lines `start`..`end` (1-based, inclusive).

        Example: `repo.read("src/app.py", 40, 60)`. Line numbers past the end are clamped. A file
        over the read limit (5 MB) can only be read a line range at a time.
        """
        rel = self._file(path)
        if start is not None or end is not None:
            first = 1 if start is None else max(1, _check_int(start, "start"))
            last = None if end is None else _check_int(end, "end")
            if self._size(rel) > MAX_READ_BYTES:
                return self._stream_range(rel, first, last, asked=(start, end))
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
        r"""Lines matching the regular expression `regex` (RE2 syntax), as Hits (.path, .line, .text).

        For text the index does not know: strings, settings, environment variables, comments.
        Case-sensitive unless it starts with `(?i)`; no lookarounds or backreferences (filter the
        hits with Python's `re` instead). `glob` filters files (`"*.py"`), `under` a folder. Stops
        after `max_results` hits; files over 5 MB are skipped unless `under` names the file.
        Example: `repo.grep(r"TIMEOUT\s*=", glob="*.py")`.
        """
        matcher = Matcher(regex)
        if _check_int(max_results, "max_results") < 1:
            raise WorkspaceError(f"max_results must be at least 1, not {max_results}")
        if max_results > MAX_RESULTS:
            raise WorkspaceError(f"max_results may be at most {MAX_RESULTS:,}, not {max_results:,}")
        folder = (self.scope or "") if under is None else self._folder(under, role="under", allow_file=True)
        listing = self._shared.get()
        sizes = self._sizes()
        return grep_files(
            self.root,
            self._files_in(glob or "**/*", folder),
            sizes,
            self._overlay(),
            matcher,
            max_results=max_results,
            stream=frozenset({folder}) if folder in sizes else frozenset(),
            # git's view of a folder that is not a work tree (or is ignored in one) differs
            # from the listing's; there every file is read here.
            git=GitScope(folder, listing.links) if listing.is_git else None,
        )

    def tree(self, under: str | None = None, depth: int = 2) -> str:
        """An overview of the folders below `under`, `depth` levels deep, with file counts and sizes."""
        if _check_int(depth, "depth") < 0:
            raise WorkspaceError(f"depth must be 0 or more, not {depth}")
        folder = (self.scope or "") if under is None else self._folder(under, role="under")
        return self._render(folder, depth)

    def scoped(self, folder: str) -> Repo:
        """A view of this repository that sees only the files below `folder` (repo-relative)."""
        view = copy.copy(self)
        view.scope = self._folder(folder, role="scope") or self.scope
        return view

    def summary(self, folders_only: bool = False) -> RepoSummary:
        """Size, languages and an overview tree; `folders_only` gives a short tree of folders alone,
        as deep as fits in BRIEF_TREE_LINES."""
        sizes = self._view_sizes()
        counts = Counter(lang for lang in map(language_of, sizes) if lang is not None)
        languages = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        folder = self.scope or ""
        if folders_only:
            # One level of at most 8 folders always fits, so the loop ends with a tree.
            for depth in (3, 2, 1):
                tree = self._render(folder, depth, max_entries=8, max_lines=10_000, files=False)
                if tree.count("\n") < BRIEF_TREE_LINES:
                    break
        else:
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

    def line_count(self, path: str, *, suggest: bool = True) -> int:
        """Number of lines of `path` (a last line without newline counts), for checking citations.

        `suggest=False` spares the search for similar paths when `path` is not a file.
        """
        rel = self._file(path, suggest=suggest)
        if self._size(rel) <= MAX_READ_BYTES or rel in self._overlay():
            return len(split_lines(self._text(rel)))
        try:
            with open(self.root / rel, "rb") as handle:
                return count_lines(handle, max_scan=MAX_STREAM_BYTES)
        except OSError as exc:
            raise self._unreadable(rel, exc) from None
        except OverflowError:
            raise too_large(rel, self._size(rel)) from None

    def refresh(self) -> None:
        """List the files again (after files were added, removed or renamed on disk); the symbol
        index, once built, follows (changed files are re-read, new content parsed)."""
        self._shared.refresh()
        index = self._services.index()
        if index.status().state == "ready":
            index.sync(self._shared.get().files)

    # ----- symbols ---------------------------------------------------------------------------

    def symbols(
        self,
        path: str | None = None,
        name: str | None = None,
        kind: str | list[str] | None = None,
        max_results: int = 500,
    ) -> list[Symbol]:
        """Definitions in a file or folder `path`, filtered by `name` and `kind`, as Symbols.

        `name` may be "parse", "Parser.parse" or a pattern like "test_*"; `kind` one of "class",
        "function", "method", "interface", "enum", "type", "module", "constant", "field",
        "variable", "macro" (or a list of them). Files in languages without symbol support have
        none. Example: `repo.symbols(path="src/models.py", kind="class")`.
        """
        limit = self._limit(max_results)
        by_kind = kind_matcher(kind)
        paths_by_blob = self._symbol_view(path)
        if name is not None:
            simple, by_name = name_matcher(name)
            index = self._services.index()
            rows = (
                index.definitions_named(simple) if simple is not None else index.definitions_in(paths_by_blob)
            )
        else:
            by_name = lambda d: True  # noqa: E731
            rows = self._services.index().definitions_in(paths_by_blob)
        found = [
            symbol(p, d)
            for blob, d in rows
            if by_kind(d.kind) and by_name(d)
            for p in paths_by_blob.get(blob, ())
        ]
        found.sort(key=lambda s: (s.path, s.line))
        return found[:limit]

    def definitions(self, name: str, max_results: int = 100) -> list[Symbol]:
        """Where `name` is defined, as Symbols (.path, .line, .qualified), source before tests.

        `name` is a plain or qualified name: "helper", "Order.submit", or the `path::Name` form
        the functions print ("src/shop/order.py::Order.submit"), which keeps that file's only.
        Example: `repo.definitions("Order.submit")`.
        """
        limit = self._limit(max_results)
        path, name = split_path_name(name)
        simple, by_name = name_matcher(name)
        paths_by_blob = self._symbol_view(self._file(path) if path else None)
        index = self._services.index()
        rows = index.definitions_named(simple) if simple is not None else index.definitions_in(paths_by_blob)
        found = [symbol(p, d) for blob, d in rows if by_name(d) for p in paths_by_blob.get(blob, ())]
        found.sort(key=lambda s: (is_peripheral(s.path), s.path, s.line))
        return found[:limit]

    def references(self, name: str, max_results: int = 200) -> list[Hit]:
        """Lines that use `name` (calls, imports, type uses, base classes), as Hits.

        Syntax-aware, unlike `repo.grep`, which finds every mention in any file.
        """
        limit = self._limit(max_results)
        simple, _ = name_matcher(name)
        if simple is None:
            raise WorkspaceError("references() takes a name, not a pattern; use repo.grep for patterns")
        paths_by_blob = self._symbol_view(None)
        places = sorted(
            (p, line)
            for blob, lines in self._services.index().references_named(simple)
            for p in paths_by_blob.get(blob, ())
            for line in lines
        )
        places.sort(key=lambda place: (is_peripheral(place[0]), place))
        hits: list[Hit] = []
        texts: dict[str, list[str]] = {}
        for path, line in places[:limit]:
            if path not in texts:
                try:
                    texts[path] = split_lines(self._text(path))
                except WorkspaceError:
                    texts[path] = []
            lines = texts[path]
            text = lines[line - 1].rstrip("\r\n") if line <= len(lines) else ""
            hits.append(Hit(path, line, text.strip()[:300]))
        return hits

    def outline(self, path: str) -> str:
        """One file's definitions with their signatures and line numbers: far shorter than reading it."""
        rel = self._file(path)
        grammars = self._services.grammars
        grammar = grammars.for_path(rel)
        if grammar is None:
            kind = language_of(rel) or "this kind of file"
            return (
                f"{rel}: no outline, {kind} is not a language with symbol support "
                f"(supported: {', '.join(grammars.names())}). "
                "Read it with repo.read or search it with repo.grep."
            )
        paths_by_blob = self._symbol_view(rel)
        if not paths_by_blob:
            reason = self._services.index().skipped().get(rel, "not indexed")
            return f"{rel}: no outline ({reason}). Read it with repo.read or search it with repo.grep."
        definitions = sorted(
            (d for _, d in self._services.index().definitions_in(paths_by_blob)), key=lambda d: d.line
        )
        lines = [f"{rel} ({grammar.name}, {self.line_count(rel)} lines, {len(definitions)} definitions)"]
        for d in definitions[:MAX_OUTLINE_ENTRIES]:
            depth = d.parent.count(".") + 1 if d.parent else 0
            lines.append(f"{d.line:>5}  {'  ' * depth}{d.signature or d.kind + ' ' + d.name}")
        if len(definitions) > MAX_OUTLINE_ENTRIES:
            lines.append(f"… {len(definitions) - MAX_OUTLINE_ENTRIES} more; use repo.symbols(path={rel!r})")
        return "\n".join(lines)

    # ----- code intelligence: the questions an IDE answers (see codeintel.py) ---------------

    def callers(self, name: str, under: str | None = None, max_results: int = 200) -> list[Caller]:
        """The definitions whose code calls `name`, with the call lines: `repo.callers("parse")` ->
        [src/cli.py:40 function main (calls at 52, 60)]; top-level code is `<module>`.

        Each Caller is a Symbol (.path, .line, .qualified, ...) with `.calls`, the call lines.
        `under` keeps the callers in one folder ("src/pkg"). Calls are matched by name, so
        `obj.parse()` counts for every `parse`: when the name is common, read the calls to check.
        """
        found = codeintel.callers(self._code_view(None), name, self._wide(under, max_results))
        return self._within(found, under, max_results)

    def subclasses(
        self, name: str, transitive: bool = True, under: str | None = None, max_results: int = 500
    ) -> list[Subclass]:
        """The classes inheriting from class `name`, directly or not: `repo.subclasses("BaseError")`
        -> [src/errors.py:12 class NotFound(BaseError)].

        `transitive=False` keeps the direct subclasses only; `under` keeps those in one folder.
        Each Subclass is a Symbol with `.bases`, the names its header lists; classes implementing
        an interface or trait count.
        """
        if not isinstance(transitive, bool):
            raise WorkspaceError(f"transitive must be True or False, not {transitive!r}")
        limit = self._wide(under, max_results)
        found = codeintel.subclasses(self._code_view(None), name, transitive, limit)
        return self._within(found, under, max_results)

    def importers(self, module: str, under: str | None = None, max_results: int = 500) -> list[Importer]:
        """The files importing a module or a name from it: `repo.importers("pkg.models")` ->
        [src/pkg/views.py:3: from .models import User].

        Give a dotted name ("pkg.models", "pkg.models.User") or a path ("src/pkg/models.py");
        relative imports count; `under` keeps the files in one folder. Each Importer has .path,
        .line and .text (its first such import).
        """
        found = codeintel.importers(self._code_view(None), module, self._wide(under, max_results))
        return self._within(found, under, max_results)

    def symbol_at(self, path: str, line: int) -> Symbol | None:
        """The innermost definition holding a line (None at top level): `repo.symbol_at("src/a.py",
        40)` -> src/a.py:12-60 method Session.request.
        """
        rel = self._file(path)
        _check_int(line, "line")
        return codeintel.symbol_at(self._code_view(rel), rel, line)

    def search(
        self, query: str, k: int = 20, kind: str | list[str] | None = None, under: str | None = None
    ) -> list[Match]:
        """Definitions best matching words about what code does: `repo.search("retry failed
        requests")` -> [src/net.py:30 function with_retries: Call fn again when it fails.].

        The `k` best, by their names, docstrings, signatures and paths. Each Match is a Symbol with
        `.doc` (its docstring's first paragraph) and `.score`.
        `kind` keeps only some kinds of definition ("function", ["class", "method"]); `under` keeps
        those in one folder.
        """
        if _check_int(k, "k") < 1:
            raise WorkspaceError(f"k must be at least 1, not {k}")
        return codeintel.search(self._code_view(under), query, k, kind_matcher(kind))

    def _wide(self, under: str | None, max_results: object) -> int:
        """How many results to ask for before keeping those `under` a folder."""
        limit = self._limit(max_results)
        return limit if under is None else MAX_RESULTS

    def _within(self, found: list[T], under: str | None, max_results: int) -> list[T]:
        if under is None:
            return found
        folder = self._folder(under, role="under", allow_file=True)
        return [item for item in found if is_under(item.path, folder)][:max_results]  # type: ignore[attr-defined]

    def _code_view(self, path: str | None) -> codeintel.CodeView:
        return codeintel.CodeView(
            index=self._services.index(),
            paths_by_blob=self._symbol_view(path),
            grammars=self._services.grammars,
            files=self._sizes(),
            line_text=self._line_text,
            line_count=self.line_count,
        )

    def _line_text(self, path: str, line: int) -> str:
        try:
            lines = split_lines(self._text(path))
        except WorkspaceError:
            return ""
        return lines[line - 1].strip()[:300] if 0 < line <= len(lines) else ""

    def repo_map(self, question: str = "", max_tokens: int = DEFAULT_MAP_TOKENS) -> str:
        """The most important files and their key definitions, ranked by how the code references
        them (and towards names in `question`), cut to about `max_tokens` tokens."""
        paths_by_blob = self._symbol_view(None)
        index = self._services.index()
        view = {p: blob for blob, paths in paths_by_blob.items() for p in paths}
        cached = self._services.graph
        if cached is None or cached[0] != index.generation or set(cached[1].paths) != set(view):
            graph = RepoGraph(view, index.all_definitions(), index.reference_counts())
            self._services.graph = cached = (index.generation, graph)
        entries = cached[1].rank(question)
        if not entries:
            return ""
        signatures = self._map_signatures(entries[: 4 * max(1, max_tokens)], view)

        def signature(entry: MapEntry) -> str:
            return signatures.get((entry.path, entry.line, entry.name), f"{entry.kind} {entry.name}")

        return render_map(entries, signature, max_tokens=max_tokens, total_files=len(view))

    def index_status(self) -> IndexStatus:
        """What the symbol index holds, and every file left out and why: the index's own skips
        (too large, minified, ...) and the files the listing drops (binary, UTF-16, a name that
        is not UTF-8, ...)."""
        status = self._services.index().status()
        listing = self._shared.get()
        if listing.skipped:
            status = dataclasses.replace(status, skipped={**listing.skipped, **status.skipped})
        return status

    def watch_index(self, listener: Callable[[IndexStatus], None]) -> None:
        """Hear the index's status as a background sync goes, and when it ends (from its thread)."""
        self._services.index().add_listener(listener)

    def unwatch_index(self, listener: Callable[[IndexStatus], None]) -> None:
        self._services.index().remove_listener(listener)

    def start_indexing(self) -> None:
        """Build or refresh the symbol index in the background (queries wait for it)."""
        self._services.index().start(lambda: self._shared.get().files)

    def update(self, *paths: str) -> None:
        """Re-index files after they changed on disk (an editor's save); new files are listed."""
        rels = [self._rel(path) for path in paths]
        listing = self._shared.get().files
        if any(rel not in listing and os.path.isfile(self.root / rel) for rel in rels):
            self._shared.refresh()
            listing = self._shared.get().files
        index = self._services.index()
        if index.status().state != "ready":
            return  # the first query indexes everything anyway
        index.update(rels, listing)

    def close(self) -> None:
        """Release the index (its file stays in the cache for the next start)."""
        self._services.close()

    # ----- internals -----

    def _limit(self, max_results: object) -> int:
        if _check_int(max_results, "max_results") < 1:
            raise WorkspaceError(f"max_results must be at least 1, not {max_results}")
        return max_results  # type: ignore[return-value]

    def _symbol_view(self, path: str | None) -> dict[int, list[str]]:
        """Blob id -> paths of the indexed files in view (below `path`, a file or folder, if
        given), with unsaved buffers in place of their files."""
        index = self._services.index()
        index.ensure(lambda: self._shared.get().files)
        folder = (self.scope or "") if path is None else self._folder(path, role="path", allow_file=True)
        view = index.view()
        overlay = self._overlay()
        grammars = self._services.grammars
        if overlay:
            sizes = self._sizes()
            view = dict(view)
            for rel, text in overlay.items():
                grammar = grammars.for_path(rel)
                if grammar is not None and rel in sizes:
                    if _buffer_size(text) > MAX_INDEX_BYTES:
                        view.pop(rel, None)  # skipped like a file that large: no symbols
                        continue
                    data = text.encode("utf-8", "surrogatepass")
                    view[rel] = index.store_content(data, grammar.key)
        out: dict[int, list[str]] = {}
        for rel, blob in view.items():
            if is_under(rel, folder):
                out.setdefault(blob, []).append(rel)
        return out

    def _map_signatures(
        self, entries: list[MapEntry], view: dict[str, int]
    ) -> dict[tuple[str, int, str], str]:
        blobs = {view[e.path] for e in entries if e.path in view}
        paths_by_blob: dict[int, list[str]] = {}
        for path, blob in view.items():
            if blob in blobs:
                paths_by_blob.setdefault(blob, []).append(path)
        out: dict[tuple[str, int, str], str] = {}
        for blob, d in self._services.index().definitions_in(blobs):
            for path in paths_by_blob.get(blob, ()):
                out[(path, d.line, d.name)] = d.signature or f"{d.kind} {d.name}"
        return out

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
                sizes[rel] = _buffer_size(text)
        return dict(sorted(sizes.items())) if added else sizes

    def _text(self, rel: str) -> str:
        """The text of a listed file: its unsaved buffer if there is one, else the file on disk.

        Either is refused over the read limit (the file as it is now, not as it was listed).
        """
        text = self._overlay().get(rel)
        if text is not None:
            size = _buffer_size(text)
            if size > MAX_READ_BYTES:
                raise too_large(rel, size, what=f"the unsaved editor buffer of {rel}")
            return text
        try:
            with open(self.root / rel, "rb") as handle:
                data = handle.read(MAX_READ_BYTES + 1)
                if len(data) > MAX_READ_BYTES:
                    raise too_large(rel, os.fstat(handle.fileno()).st_size)
        except OSError as exc:
            raise self._unreadable(rel, exc) from None
        return decode(data)

    def _size(self, rel: str) -> int:
        """The size of a listed file now (its unsaved buffer's, if any), or as listed when it is gone."""
        text = self._overlay().get(rel)
        if text is not None:
            return _buffer_size(text)
        try:
            return os.stat(self.root / rel).st_size
        except OSError:
            return self._sizes().get(rel, 0)

    def _stream_range(self, rel: str, first: int, last: int | None, *, asked: tuple[object, object]) -> str:
        """Lines first..last of a file over the read limit, read block by block."""
        start, end = asked
        if last is not None and last < first:
            raise WorkspaceError(f"end line {end} is before start line {first} (reading {rel})")
        try:
            with open(self.root / rel, "rb") as handle:
                data, lines = stream_line_range(
                    handle, first, last, max_bytes=MAX_READ_BYTES, max_scan=MAX_STREAM_BYTES
                )
        except OSError as exc:
            raise self._unreadable(rel, exc) from None
        except ValueError:
            raise WorkspaceError(
                f"lines {first}..{end if end is not None else 'end'} of {rel} are over the "
                f"{human_size(MAX_READ_BYTES)} read limit; read fewer lines at a time"
            ) from None
        except OverflowError:
            raise WorkspaceError(
                f"line {first} of {rel} lies beyond the first {human_size(MAX_STREAM_BYTES)}, as far as a "
                f"read may scan; search the file instead (repo.grep(pattern, under={rel!r}))"
            ) from None
        if first > lines and not data:
            raise WorkspaceError(f"start line {start} is past the end of {rel}, which has {lines} lines")
        return decode(data) if first == 1 else data.decode("utf-8", "replace")

    @staticmethod
    def _unreadable(rel: str, exc: OSError) -> WorkspaceError:
        return WorkspaceError(
            f"cannot read {rel}: {exc.strerror or exc} (it may have been removed since the files were listed)"
        )

    def _view_sizes(self, folder: str | None = None) -> dict[str, int]:
        folder = folder if folder is not None else self.scope or ""
        return {path: size for path, size in self._sizes().items() if is_under(path, folder)}

    def _render(
        self, folder: str, depth: int, *, max_entries: int = 25, max_lines: int = 200, files: bool = True
    ) -> str:
        label = folder or self.root.name
        return render_tree(
            self._view_sizes(folder),
            base=folder,
            label=label,
            depth=depth,
            max_entries=max_entries,
            max_lines=max_lines,
            files=files,
        )

    def _check_scope(self, rel: str, given: object) -> None:
        if self.scope and not is_under(rel, self.scope):
            raise WorkspaceError(
                f"path is outside the scope of this view ({self.scope}/): {given} "
                "(paths are relative to the repository root)"
            )

    def _file(self, path: str, *, suggest: bool = True) -> str:
        """The repo-relative path of a readable file in view, or a WorkspaceError saying why not
        (with similar paths when `suggest`)."""
        rel = self._rel(path)
        if not rel:
            raise WorkspaceError("the repository root is a folder, not a file; see repo.tree()")
        self._check_scope(rel, path)
        if rel in self._sizes():
            return rel
        raise self._not_a_file(rel, suggest=suggest)

    def _not_a_file(self, rel: str, *, suggest: bool = True) -> WorkspaceError:
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
                "of the repository's files (or it was created after the files were listed)"
            )
        suggestions = self._close_matches(rel) if suggest else []
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
