"""The persistent symbol index: tags per file content, kept in SQLite, refreshed by what changed.

Tags are stored per *blob* (git's SHA-1 of the content), and the files table maps each path to
its blob with the stat data it had (size, mtime, inode). A restart stats every file and re-reads
only those whose stat changed; a changed file whose content is already known (switching back to
a branch) costs a hash, and only new content is parsed. A cold index parses in worker processes.

Files that cannot or should not be parsed are skipped with a reason that `status()` reports and
the log records: too large, minified, unreadable, vanished while scanning.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import queue
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .grammars import GrammarSet, load_grammars
from .symbol_search import search_columns
from .tags import Base, Definition, Import, parse_tags

log = logging.getLogger(__name__)

SCHEMA_VERSION = "2"
MAX_INDEX_BYTES = 2 * 1024 * 1024
"""Larger files are generated far more often than written; they are skipped, not parsed."""
MINIFIED_LINE_CHARS = 10_000
"""A file with a longer line is minified or generated: skipped."""
PARALLEL_MIN_BYTES = 1_500_000
"""Below this much text to parse, starting worker processes costs more than it saves."""
BATCH_BYTES = 256_000
BATCH_FILES = 200
"""A batch of files for a worker holds up to this many bytes or files, whichever comes first."""
MAIN_THREAD_MAX_BYTES = 64_000
"""The indexing thread parses batches of files up to this size itself (each in milliseconds)."""
WORKER_MODULE = "reporlm.workspace.parse_worker"
_SERVER_DIR = str(Path(__file__).resolve().parents[2])
PROGRESS_SECONDS = 2.0
PROGRESS_NOTIFY_SECONDS = 0.1
"""Listeners hear a sync's progress at most this often."""
VANISHED = "vanished while indexing"
"""Why a listed file was not indexed when it is gone: it is dropped, not kept with a reason."""
_SQL_CHUNK = 500

_FileRow = tuple[str, int | None, int, int, int, str]
"""A row of the files table: path, blob (None: skipped), size, mtime_ns, inode, status."""

_TABLES = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs(
    id INTEGER PRIMARY KEY, hash TEXT UNIQUE NOT NULL, language TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '', seen REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS files(
    path TEXT PRIMARY KEY, blob INTEGER, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL, status TEXT NOT NULL DEFAULT '') WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS defs(
    blob INTEGER NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, line INTEGER NOT NULL,
    end_line INTEGER NOT NULL, parent TEXT NOT NULL, signature TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refs(
    blob INTEGER NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, lines TEXT NOT NULL,
    count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bases(
    blob INTEGER NOT NULL, child TEXT NOT NULL, child_line INTEGER NOT NULL, name TEXT NOT NULL,
    text TEXT NOT NULL, kind TEXT NOT NULL, line INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS imports(
    blob INTEGER NOT NULL, module TEXT NOT NULL, name TEXT NOT NULL, alias TEXT NOT NULL,
    line INTEGER NOT NULL);
"""
_SEARCH_TABLE = (
    # Words of each definition (row id = the defs row id), for repo.search; porter stems them.
    "CREATE VIRTUAL TABLE IF NOT EXISTS defs_text USING fts5("
    "name, parent, signature, doc, tokenize='porter unicode61')"
)
_INDEXES = {
    "defs_name": "defs(name)",
    "defs_blob": "defs(blob)",
    "refs_name": "refs(name)",
    "refs_blob": "refs(blob)",
    "bases_name": "bases(name)",
    "bases_blob": "bases(blob)",
    "imports_blob": "imports(blob)",
}
_SCHEMA = _TABLES + "".join(f"CREATE INDEX IF NOT EXISTS {name} ON {on};\n" for name, on in _INDEXES.items())
_DEF_COLUMNS = "name, kind, line, end_line, parent, signature, doc"
_DATA_TABLES = ("blobs", "files", "defs", "refs", "bases", "imports")
"""Every table a format change drops (not only empties: an older format's columns differ)."""


def blob_hash(data: bytes) -> str:
    """Git's object id for a blob with this content."""
    digest = hashlib.sha1(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


class IndexClosing(Exception):
    """A sync was stopped because its index is being closed."""


class Parsed(NamedTuple):
    """What parsing one file's content produced (sent back from worker processes)."""

    hash: str
    language: str
    status: str  # "" when parsed, else why it was skipped
    definitions: list[tuple[str, str, int, int, str, str, str]]  # Definition fields: tuples pickle faster
    references: list[tuple[str, str, str, int]]  # (name, kind, comma-separated lines, count)
    bases: list[tuple[str, int, str, str, str, int]]  # tags.Base fields
    imports: list[tuple[str, str, str, int]]  # tags.Import fields


def parse_content(data: bytes, language: str, grammars: GrammarSet | None = None) -> Parsed:
    """Tags of one file's bytes; never raises for bad input (the reason goes in `status`)."""
    digest = blob_hash(data)
    grammar = (grammars or load_grammars()).grammars[language]
    longest = max(map(len, data.split(b"\n")))
    if longest > MINIFIED_LINE_CHARS:
        return Parsed(
            digest, language, f"skipped: minified or generated (a line of {longest:,} chars)", [], [], [], []
        )
    try:
        tags = parse_tags(grammar, data)
    except Exception as exc:  # a grammar bug must not stop the index
        log.warning("parsing failed (%s): %s", language, exc)
        return Parsed(digest, language, f"skipped: parse error ({type(exc).__name__})", [], [], [], [])
    refs = [
        (name, kind, ",".join(map(str, lines)), len(lines)) for (name, kind), lines in tags.references.items()
    ]
    return Parsed(
        digest,
        language,
        "",
        [tuple(d) for d in tags.definitions],  # type: ignore[misc]
        refs,
        [tuple(b) for b in tags.bases],  # type: ignore[misc]
        [tuple(i) for i in tags.imports],  # type: ignore[misc]
    )


def parse_batch(root: str, jobs: list[tuple[str, str]]) -> list[tuple[str, Parsed | str]]:
    """Worker-process entry: parse files (path, language); an unreadable one gives its error."""
    grammars = load_grammars()
    out: list[tuple[str, Parsed | str]] = []
    for path, language in jobs:
        data = _read_source(root, path)
        out.append((path, data if isinstance(data, str) else parse_content(data, language, grammars)))
    return out


def _read_source(root: str, path: str) -> bytes | str:
    """A file's bytes, or why it is skipped: it may have grown or gone since it was listed."""
    try:
        with open(os.path.join(root, path), "rb") as handle:
            data = handle.read(MAX_INDEX_BYTES + 1)
    except OSError as exc:
        return _read_error(exc)
    return "skipped: too large (it grew while indexing)" if len(data) > MAX_INDEX_BYTES else data


def _read_error(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return VANISHED
    if isinstance(exc, PermissionError):
        return "skipped: permission denied"
    return f"skipped: unreadable ({exc.strerror or type(exc).__name__})"


@dataclass
class IndexStatus:
    """What the index holds, for status displays and for the model."""

    state: str  # "not started", "indexing", "ready", "failed"
    files: int  # files in a supported language
    indexed: int
    skipped: dict[str, str] = field(default_factory=dict)  # path -> reason
    seconds: float = 0.0  # duration of the last full sync
    location: str = ""  # the index file, or ":memory:"
    languages: list[str] = field(default_factory=list)  # languages with symbol support
    parsed: int = 0  # while indexing: files parsed so far by this sync
    to_parse: int = 0  # while indexing: files this sync parses (0 until it knows)

    def __str__(self) -> str:
        if self.state == "indexing" and self.to_parse:
            return f"symbol index indexing: {self.parsed}/{self.to_parse} files parsed"
        text = f"symbol index {self.state}: {self.indexed}/{self.files} files indexed"
        if self.skipped:
            text += f", {len(self.skipped)} skipped"
        return text


class _FileRow(NamedTuple):
    blob: int | None
    size: int
    mtime_ns: int
    inode: int
    status: str


class SymbolIndex:
    """Symbols of one repository root, persisted in `db_path` (None: in memory only)."""

    def __init__(
        self, root: Path, db_path: Path | None, grammars: GrammarSet | None = None, *, workers: int = 0
    ) -> None:
        self.root = root
        self.grammars = grammars or load_grammars()
        self.workers = workers or _cpu_count()
        self.generation = 0
        """Bumped on every change of the indexed content: derived caches compare it."""
        self._lock = threading.RLock()
        self._view: dict[str, int] = {}  # path -> blob id, for parsed files
        self._paths_by_blob: dict[int, list[str]] = {}
        self._skipped: dict[str, str] = {}
        self._supported = 0
        self._state = "not started"
        self._seconds = 0.0
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._progress = (0, 0)  # (parsed, to parse) of the sync under way
        self._closing = threading.Event()
        """Set by close(): a sync stops between two parsed batches instead of finishing."""
        self._listeners: list[Callable[[IndexStatus], None]] = []
        self._heard = 0.0
        self.searchable = False
        """Whether the full-text table of definitions exists (SQLite has FTS5): repo.search."""
        self._db, self.location = self._open(db_path)

    # ----- opening ---------------------------------------------------------------------------

    def _open(self, db_path: Path | None) -> tuple[sqlite3.Connection, str]:
        if db_path is not None:
            try:
                db_path.parent.mkdir(parents=True, exist_ok=True)
                db = self._connect(str(db_path))
                return db, str(db_path)
            except (OSError, sqlite3.DatabaseError) as exc:
                # A corrupt or foreign file: start over; an unwritable folder: keep it in memory.
                log.warning("symbol index at %s unusable (%s); rebuilding it", db_path, exc)
                try:
                    for suffix in ("", "-wal", "-shm"):
                        Path(str(db_path) + suffix).unlink(missing_ok=True)
                    return self._connect(str(db_path)), str(db_path)
                except (OSError, sqlite3.DatabaseError) as again:
                    log.warning("cannot keep the symbol index on disk (%s); it lives in memory", again)
        return self._connect(":memory:"), ":memory:"

    def _connect(self, target: str) -> sqlite3.Connection:
        db = sqlite3.connect(target, check_same_thread=False, isolation_level=None, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        fingerprint = f"{SCHEMA_VERSION}:{self.grammars.fingerprint()}"
        row = db.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
        fresh = row is None or row[0] != fingerprint
        if fresh:
            if row is not None:
                log.info("grammars or index format changed: the symbol index starts afresh")
            # Dropped, not emptied: an older format's tables have other columns.
            with _transaction(db):
                for table in ("defs_text", *_DATA_TABLES):
                    db.execute(f"DROP TABLE IF EXISTS {table}")
        db.executescript(_SCHEMA)
        self.searchable = _create_search_table(db)
        if fresh:
            with _transaction(db):
                db.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
                db.execute("INSERT OR REPLACE INTO meta VALUES ('root', ?)", (str(self.root),))
        return db

    def close(self) -> None:
        """Stop a sync that is parsing (what it wrote is rolled back), then close the database."""
        self._closing.set()
        self.wait()
        with self._lock:
            self._db.close()

    # ----- keeping it fresh ------------------------------------------------------------------

    def start(self, listing: Callable[[], Mapping[str, int]]) -> None:
        """Sync in a background thread (no-op when one runs or the index is ready)."""
        with self._lock:
            if self._thread is not None or self._state == "ready":
                return
            self._state = "indexing"
            self._thread = threading.Thread(
                target=self._background, args=(listing,), name="reporlm-index", daemon=True
            )
            self._thread.start()

    def _background(self, listing: Callable[[], Mapping[str, int]]) -> None:
        try:
            self.sync(listing())
        except IndexClosing:
            log.info("indexing %s stopped: the index is closing", self.root)
        except BaseException as exc:
            log.exception("indexing %s failed", self.root)
            self._error = exc
            self._state = "failed"
        finally:
            self._notify(force=True)

    def add_listener(self, listener: Callable[[IndexStatus], None]) -> None:
        """Call `listener(status)` (from the indexing thread) as a background sync makes progress,
        at most every PROGRESS_NOTIFY_SECONDS, and once when it ends."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[IndexStatus], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _notify(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self._listeners or (not force and now - self._heard < PROGRESS_NOTIFY_SECONDS):
            return
        self._heard = now
        status = self.status()
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:  # a listener's bug must not stop the index
                log.exception("an index listener failed")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background sync; True when none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
        return True

    def ensure(self, listing: Callable[[], Mapping[str, int]]) -> None:
        """Make the index ready: wait for the background sync, or run one now."""
        self.wait()
        if self._state != "ready":
            self.sync(listing())

    def status(self) -> IndexStatus:
        """Answers at once, also while a sync runs (it reads fields a sync replaces whole)."""
        parsed, to_parse = self._progress
        return IndexStatus(
            state=self._state,
            files=self._supported,
            indexed=len(self._view),
            skipped=dict(self._skipped),
            seconds=round(self._seconds, 3),
            location=self.location,
            languages=self.grammars.names(),
            parsed=parsed,
            to_parse=to_parse,
        )

    def sync(self, listing: Mapping[str, int]) -> None:
        """Bring the index in line with the files listed (path -> size): stat all, parse the new."""
        started = time.monotonic()
        wanted = {path: g.key for path in listing if (g := self.grammars.for_path(path)) is not None}
        with self._lock:
            self._state = "indexing" if self._state != "ready" else "ready"
            known = self._file_rows()
            changed: dict[str, os.stat_result] = {}
            gone: set[str] = set()
            for path in wanted:
                info = self._stat(path)
                if info is None:
                    gone.add(path)
                    continue
                row = known.get(path)
                if row is None or (row.size, row.mtime_ns, row.inode) != _stat_key(info):
                    changed[path] = info
            removed = [path for path in known if path not in wanted or path in gone]
            try:
                self._apply(changed, wanted, removed, full=True)
            except IndexClosing:
                self._state, self._progress = "not started", (0, 0)  # nothing of this sync was kept
                raise
            self._supported = len(wanted)
            self._state = "ready"
            self._seconds = time.monotonic() - started
        parsed = len(changed)
        log.info(
            "symbol index of %s ready: %d files (%d re-read, %d gone, %d skipped) in %.2f s",
            self.root,
            len(self._view),
            parsed,
            len(removed),
            len(self._skipped),
            self._seconds,
        )

    def update(self, paths: Iterable[str], listing: Mapping[str, int]) -> None:
        """Re-index the given files after an edit (stat, hash, parse if the content is new)."""
        with self._lock:
            known = self._file_rows(paths)
            changed: dict[str, os.stat_result] = {}
            removed: list[str] = []
            wanted: dict[str, str] = {}
            for path in paths:
                grammar = self.grammars.for_path(path)
                info = self._stat(path) if path in listing and grammar is not None else None
                if info is None:
                    if path in known or path in self._view or path in self._skipped:
                        removed.append(path)
                    continue
                wanted[path] = grammar.key  # type: ignore[union-attr]
                row = known.get(path)
                if row is None or (row.size, row.mtime_ns, row.inode) != _stat_key(info):
                    changed[path] = info
            self._apply(changed, wanted, removed, full=False)
            self._supported = sum(1 for path in listing if self.grammars.for_path(path) is not None)

    def _stat(self, path: str) -> os.stat_result | None:
        try:
            info = os.stat(os.path.join(self.root, path))
        except OSError as exc:
            log.info("symbol index: %s vanished or is unreadable (%s); skipped", path, exc)
            return None
        return info if stat.S_ISREG(info.st_mode) else None

    def _apply(
        self,
        changed: dict[str, os.stat_result],
        wanted: dict[str, str],
        removed: list[str],
        *,
        full: bool,
    ) -> None:
        """Hash the changed files, parse the content not seen before, write it all down."""
        if not changed and not removed:
            if full:
                self._load_view()
            return
        # Hashing a file here spares parsing content the index already holds (a branch switched
        # back); an index that holds none leaves reading and hashing to the parsers.
        hash_here = self._db.execute("SELECT 1 FROM blobs LIMIT 1").fetchone() is not None
        rows, jobs = self._known_or_to_parse(changed, wanted, hash_here=hash_here)
        # One transaction, written as results arrive: the writing overlaps the parsing.
        with _transaction(self._db):
            if not hash_here and jobs:
                # Filling empty tables: building the indexes once at the end costs less than
                # keeping them up to date row by row.
                for name in _INDEXES:
                    self._db.execute(f"DROP INDEX IF EXISTS {name}")
            rows += self._parse_and_store(jobs, changed)
            self._write_files(rows, removed, full=full)
        self.generation += 1
        self._load_view()
        self._progress = (0, 0)

    def _known_or_to_parse(
        self, changed: dict[str, os.stat_result], wanted: dict[str, str], *, hash_here: bool
    ) -> tuple[list[_FileRow], list[tuple[str, str, int]]]:
        """Rows for the changed files settled without parsing (too large, unreadable, content the
        index holds), and parse jobs (path, language, size) for the rest."""
        rows: list[_FileRow] = []
        jobs: list[tuple[str, str, int]] = []
        for path, info in changed.items():
            size_key = _stat_key(info)
            if info.st_size > MAX_INDEX_BYTES:
                limit = MAX_INDEX_BYTES / 1e6
                reason = f"skipped: too large ({info.st_size / 1e6:.1f} MB; the limit is {limit:.0f} MB)"
                log.info("symbol index: %s %s", path, reason)
                rows.append((path, None, *size_key, reason))
                continue
            if not hash_here:
                jobs.append((path, wanted[path], info.st_size))
                continue
            data = _read_source(self.root, path)
            if isinstance(data, str):
                log.info("symbol index: %s %s", path, data)
                if data != VANISHED:
                    rows.append((path, None, *size_key, data))
                continue
            blob = self._blob_id(blob_hash(data))
            if blob is not None:
                rows.append((path, blob, *size_key, ""))
            else:
                jobs.append((path, wanted[path], len(data)))
        return rows, jobs

    def _parse_and_store(
        self, jobs: list[tuple[str, str, int]], changed: dict[str, os.stat_result]
    ) -> list[_FileRow]:
        """Parse the jobs, storing each new blob as its result arrives; returns the parsed files' rows."""
        stats = {path: _stat_key(changed[path]) for path, _, _ in jobs}
        rows: list[_FileRow] = []
        writer = _BlobWriter(self._db, searchable=self.searchable)
        self._progress = (0, len(jobs))
        for done, (path, outcome) in enumerate(self._parse(jobs), 1):
            self._progress = (done, len(jobs))
            self._notify()
            if isinstance(outcome, str):
                log.info("symbol index: %s %s", path, outcome)
                if outcome != VANISHED:
                    rows.append((path, None, *stats[path], outcome))
                continue
            if outcome.status:
                log.info("symbol index: %s %s", path, outcome.status)
            rows.append((path, writer.add(outcome), *stats[path], outcome.status))
        writer.flush()
        return rows

    def _write_files(self, rows: list[_FileRow], removed: list[str], *, full: bool) -> None:
        """Bring the files table up to date (indexes rebuilt if dropped); after a full sync, mark
        the content in use as seen and forget what has gone unused for long."""
        for name, on in _INDEXES.items():
            self._db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")
        self._db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in removed])
        self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", rows)
        if full:
            self._db.execute("UPDATE blobs SET seen = ? WHERE id IN (SELECT blob FROM files)", (time.time(),))
            self._collect_garbage()

    def _parse(self, jobs: list[tuple[str, str, int]]) -> Iterable[tuple[str, Parsed | str]]:
        if not jobs:
            return []
        total = sum(size for _, _, size in jobs)
        log.info("symbol index: parsing %d files (%.1f MB) of %s", len(jobs), total / 1e6, self.root)
        if self.workers < 2 or total < PARALLEL_MIN_BYTES:
            return parse_batch(str(self.root), [(path, lang) for path, lang, _ in jobs])
        return self._parse_parallel(jobs)

    def _parse_parallel(self, jobs: list[tuple[str, str, int]]) -> Iterator[tuple[str, Parsed | str]]:
        """Parse in `workers - 1` processes and in this thread, which also writes the results.

        Batches go largest first to the first process free (parse time follows size); this
        thread takes the smallest ones while no results wait. Parsing holds the GIL, so it
        only takes batches of small files: other threads (a server's event loop) never wait
        long. Starting one process fewer saves its start-up and the pickling of its share.
        """
        pending = deque(_batches(sorted(jobs, key=lambda job: -job[2])))
        results: queue.Queue[tuple[_Worker, list[tuple[str, Parsed | str]] | BaseException | None]]
        results = queue.Queue()
        workers = [_Worker(str(self.root), results) for _ in range(min(self.workers - 1, len(pending)))]
        done = 0
        last_report = time.monotonic()

        def next_batch() -> list[tuple[str, str]] | None:
            return pending.popleft()[1] if pending else None

        try:
            for worker in workers:
                for _ in range(2):  # one to parse, one waiting in the pipe
                    worker.send(next_batch())
            running = len(workers)
            while running or pending:
                if self._closing.is_set():
                    raise IndexClosing(f"the symbol index of {self.root} is closing")
                if results.empty() and pending and (pending[-1][0] <= MAIN_THREAD_MAX_BYTES or not running):
                    batch = parse_batch(str(self.root), pending.pop()[1])
                    done += len(batch)
                    yield from batch
                    continue
                worker, item = results.get()
                if isinstance(item, BaseException):
                    raise item
                if item is None:
                    running -= 1
                    if worker.outstanding:
                        raise RuntimeError(f"a parse worker stopped early ({worker.exit_status()})")
                    continue
                worker.outstanding -= 1
                worker.send(next_batch())
                done += len(item)
                if time.monotonic() - last_report > PROGRESS_SECONDS:
                    last_report = time.monotonic()
                    log.info("symbol index: %d/%d files parsed", done, len(jobs))
                yield from item
        finally:
            for worker in workers:
                worker.stop()

    def _blob_id(self, digest: str) -> int | None:
        return _stored_blob(self._db, digest)

    def store_content(self, data: bytes, language: str) -> int:
        """The blob id of this content (an unsaved buffer), parsing it if it is new."""
        with self._lock:
            blob = self._blob_id(blob_hash(data))
            if blob is not None:
                return blob
            parsed = parse_content(data, language, self.grammars)
            with _transaction(self._db):
                writer = _BlobWriter(self._db, searchable=self.searchable)
                blob = writer.add(parsed)
                writer.flush()
            self.generation += 1
            return blob

    def _collect_garbage(self) -> None:
        """Forget content no file has had for a week (other branches' content stays a while)."""
        cutoff = time.time() - 7 * 24 * 3600
        stale = [
            row[0]
            for row in self._db.execute(
                "SELECT id FROM blobs WHERE seen < ? "
                "AND id NOT IN (SELECT blob FROM files WHERE blob IS NOT NULL)",
                (cutoff,),
            )
        ]
        for chunk in _chunks(stale):
            marks = ",".join("?" * len(chunk))
            if self.searchable:
                self._db.execute(
                    f"DELETE FROM defs_text WHERE rowid IN (SELECT rowid FROM defs WHERE blob IN ({marks}))",
                    chunk,
                )
            for table, column in (
                ("defs", "blob"),
                ("refs", "blob"),
                ("bases", "blob"),
                ("imports", "blob"),
                ("blobs", "id"),
            ):
                self._db.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk)

    def _file_rows(self, paths: Iterable[str] | None = None) -> dict[str, _FileRow]:
        if paths is None:
            cursor = self._db.execute("SELECT path, blob, size, mtime_ns, inode, status FROM files")
            return {row[0]: _FileRow(*row[1:]) for row in cursor}
        out: dict[str, _FileRow] = {}
        for chunk in _chunks(list(paths)):
            marks = ",".join("?" * len(chunk))
            cursor = self._db.execute(
                f"SELECT path, blob, size, mtime_ns, inode, status FROM files WHERE path IN ({marks})", chunk
            )
            out.update((row[0], _FileRow(*row[1:])) for row in cursor)
        return out

    def _load_view(self) -> None:
        view: dict[str, int] = {}
        skipped: dict[str, str] = {}
        cursor = self._db.execute(
            "SELECT files.path, files.blob, files.status, blobs.status FROM files "
            "LEFT JOIN blobs ON blobs.id = files.blob"
        )
        for path, blob, file_status, blob_status in cursor:
            reason = file_status or blob_status or ""
            if reason:
                skipped[path] = reason
            elif blob is not None:
                view[path] = blob
        by_blob: dict[int, list[str]] = {}
        for path, blob in view.items():
            by_blob.setdefault(blob, []).append(path)
        self._view, self._paths_by_blob, self._skipped = view, by_blob, skipped

    # ----- reading ---------------------------------------------------------------------------

    def view(self) -> dict[str, int]:
        """Indexed files: path -> blob id (a snapshot; do not modify)."""
        return self._view

    def skipped(self) -> dict[str, str]:
        return self._skipped

    def definitions_named(self, name: str) -> list[tuple[int, Definition]]:
        with self._lock:
            cursor = self._db.execute(f"SELECT blob, {_DEF_COLUMNS} FROM defs WHERE name = ?", (name,))
            return [(row[0], Definition(*row[1:])) for row in cursor]

    def definitions_in(self, blobs: Iterable[int]) -> list[tuple[int, Definition]]:
        out: list[tuple[int, Definition]] = []
        with self._lock:
            for chunk in _chunks(sorted(set(blobs))):
                marks = ",".join("?" * len(chunk))
                cursor = self._db.execute(
                    f"SELECT blob, {_DEF_COLUMNS} FROM defs WHERE blob IN ({marks})", chunk
                )
                out += [(row[0], Definition(*row[1:])) for row in cursor]
        return out

    def all_definitions(self) -> list[tuple[int, str, str, int, str]]:
        """(blob, name, kind, line, parent) of every stored definition."""
        with self._lock:
            return list(self._db.execute("SELECT blob, name, kind, line, parent FROM defs"))

    def references_named(self, name: str, kinds: Iterable[str] | None = None) -> list[tuple[int, list[int]]]:
        """(blob, lines) where `name` is referenced (as one of `kinds` if given: "call", "import",
        "base", ...); a blob comes once per kind it uses the name as."""
        query, args = "SELECT blob, lines FROM refs WHERE name = ?", [name]
        if kinds is not None:
            wanted = sorted(set(kinds))
            query += f" AND kind IN ({','.join('?' * len(wanted))})"
            args += wanted
        with self._lock:
            cursor = self._db.execute(query, args)
            return [(blob, [int(n) for n in lines.split(",")]) for blob, lines in cursor]

    def reference_counts(self) -> list[tuple[int, str, int]]:
        """(blob, name, count) of every stored reference, all kinds together."""
        with self._lock:
            return list(self._db.execute("SELECT blob, name, SUM(count) FROM refs GROUP BY blob, name"))

    def bases_named(self, names: Iterable[str]) -> list[tuple[int, Base]]:
        """Class headers naming any of `names` as a base: (blob, Base)."""
        out: list[tuple[int, Base]] = []
        with self._lock:
            for chunk in _chunks(sorted(set(names))):
                marks = ",".join("?" * len(chunk))
                cursor = self._db.execute(
                    "SELECT blob, child, child_line, name, text, kind, line FROM bases "
                    f"WHERE name IN ({marks})",
                    chunk,
                )
                out += [(row[0], Base(*row[1:])) for row in cursor]
        return out

    def bases_in(self, blobs: Iterable[int]) -> list[tuple[int, Base]]:
        """Every base named in the class headers of these blobs: (blob, Base), in source order."""
        out: list[tuple[int, Base]] = []
        with self._lock:
            for chunk in _chunks(sorted(set(blobs))):
                marks = ",".join("?" * len(chunk))
                cursor = self._db.execute(
                    "SELECT blob, child, child_line, name, text, kind, line FROM bases "
                    f"WHERE blob IN ({marks}) ORDER BY blob, rowid",
                    chunk,
                )
                out += [(row[0], Base(*row[1:])) for row in cursor]
        return out

    def aliases_of(self, names: Iterable[str]) -> list[tuple[int, str, str]]:
        """(blob, name, alias) of the imports giving any of `names` another name (`import x as y`)."""
        out: list[tuple[int, str, str]] = []
        with self._lock:
            for chunk in _chunks(sorted(set(names))):
                marks = ",".join("?" * len(chunk))
                cursor = self._db.execute(
                    f"SELECT blob, name, alias FROM imports WHERE alias != '' AND name IN ({marks})", chunk
                )
                out += cursor.fetchall()
        return out

    def imports_like(self, name: str) -> list[tuple[int, Import]]:
        """Imports that may concern `name` (a module's or a name's last part): those whose module
        or name holds it (`../lib/index.js` for "lib", `area::Area` for "Area"), or that alias
        something to it. Callers match them exactly."""
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            cursor = self._db.execute(
                "SELECT blob, module, name, alias, line FROM imports "
                "WHERE alias = ? OR name LIKE ? ESCAPE '\\' OR module LIKE ? ESCAPE '\\'",
                (name, pattern, pattern),
            )
            return [(row[0], Import(*row[1:])) for row in cursor]

    def search(
        self, expression: str, weights: tuple[float, ...], limit: int | None
    ) -> list[tuple[int, Definition, float]]:
        """Definitions matching a full-text `expression` (FTS5 syntax), best first, at most
        `limit` (None: all): (blob, definition, score), a higher score better."""
        if not self.searchable:
            raise RuntimeError("this SQLite has no full-text search (FTS5)")
        rank = f"bm25(defs_text, {', '.join(str(float(w)) for w in weights)})"
        columns = ", ".join("d." + column for column in _DEF_COLUMNS.split(", "))
        query = (
            f"SELECT d.blob, {columns}, {rank} FROM defs_text JOIN defs AS d ON d.rowid = defs_text.rowid "
            f"WHERE defs_text MATCH ? ORDER BY {rank} LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(query, (expression, -1 if limit is None else limit)).fetchall()
        return [(row[0], Definition(*row[1:-1]), -row[-1]) for row in rows]


def _create_search_table(db: sqlite3.Connection) -> bool:
    """Make the full-text table of definitions; False where SQLite was built without FTS5."""
    try:
        db.execute(_SEARCH_TABLE)
    except sqlite3.OperationalError as exc:
        log.warning("SQLite has no full-text search (%s): repo.search is unavailable", exc)
        return False
    return True


def _batches(jobs: list[tuple[str, str, int]]) -> list[tuple[int, list[tuple[str, str]]]]:
    """Consecutive jobs (path, language, size) in batches, each with the size of its largest."""
    batches: list[tuple[int, list[tuple[str, str]]]] = []
    size = BATCH_BYTES
    for path, lang, nbytes in jobs:
        if size >= BATCH_BYTES or len(batches[-1][1]) >= BATCH_FILES:
            batches.append((nbytes, []))
            size = 0
        batches[-1][1].append((path, lang))
        size += nbytes
    return batches


def _stored_blob(db: sqlite3.Connection, digest: str) -> int | None:
    """The id of the blob with this hash, if the index holds it."""
    row = db.execute("SELECT id FROM blobs WHERE hash = ?", (digest,)).fetchone()
    return None if row is None else row[0]


class _BlobWriter:
    """Writes parsed blobs in bulk inside the caller's transaction: one statement per table for
    many files instead of several per file, which the thread that also parses has no time for.
    Ids are handed out here, so a result needs no round trip to the database."""

    FLUSH_ROWS = 50_000

    def __init__(self, db: sqlite3.Connection, *, searchable: bool) -> None:
        self._db = db
        self._next_id = db.execute("SELECT COALESCE(MAX(id), 0) FROM blobs").fetchone()[0] + 1
        # Definitions get their row ids here too: the full-text row of a definition shares it.
        self._next_def = db.execute("SELECT COALESCE(MAX(rowid), 0) FROM defs").fetchone()[0] + 1
        self._searchable = searchable
        self._ids: dict[str, int] = {}  # content written by this writer
        self._filling = self._next_id == 1  # an empty index: nothing to look up there
        self._blobs: list[tuple[int, str, str, str, float]] = []
        self._defs: list[tuple[object, ...]] = []
        self._texts: list[tuple[object, ...]] = []
        self._refs: list[tuple[object, ...]] = []
        self._bases: list[tuple[object, ...]] = []
        self._imports: list[tuple[object, ...]] = []

    def add(self, parsed: Parsed) -> int:
        """The blob id of this content, queueing its rows when the index does not hold it yet."""
        blob = self._ids.get(parsed.hash)
        if blob is None and not self._filling:
            blob = _stored_blob(self._db, parsed.hash)
        if blob is not None:
            return blob
        blob = self._ids[parsed.hash] = self._next_id
        self._next_id += 1
        self._blobs.append((blob, parsed.hash, parsed.language, parsed.status, time.time()))
        first = self._next_def
        self._next_def += len(parsed.definitions)
        self._defs += [(rowid, blob, *d) for rowid, d in enumerate(parsed.definitions, first)]
        if self._searchable:
            self._texts += [(rowid, *search_columns(*d)) for rowid, d in enumerate(parsed.definitions, first)]
        self._refs += [(blob, *r) for r in parsed.references]
        self._bases += [(blob, *b) for b in parsed.bases]
        self._imports += [(blob, *i) for i in parsed.imports]
        if len(self._defs) + len(self._refs) >= self.FLUSH_ROWS:
            self.flush()
        return blob

    def flush(self) -> None:
        self._db.executemany(
            "INSERT INTO blobs(id, hash, language, status, seen) VALUES (?, ?, ?, ?, ?)", self._blobs
        )
        self._db.executemany(
            "INSERT INTO defs(rowid, blob, name, kind, line, end_line, parent, signature, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self._defs,
        )
        if self._texts:
            self._db.executemany(
                "INSERT INTO defs_text(rowid, name, parent, signature, doc) VALUES (?, ?, ?, ?, ?)",
                self._texts,
            )
        self._db.executemany("INSERT INTO refs VALUES (?, ?, ?, ?, ?)", self._refs)
        self._db.executemany("INSERT INTO bases VALUES (?, ?, ?, ?, ?, ?, ?)", self._bases)
        self._db.executemany("INSERT INTO imports VALUES (?, ?, ?, ?, ?)", self._imports)
        self._blobs, self._defs, self._texts, self._refs = [], [], [], []
        self._bases, self._imports = [], []


class _Worker:
    """One parse_worker process: batches go in one at a time, and its results (one list per
    batch) arrive on the shared queue, then None when its output ends."""

    def __init__(
        self,
        root: str,
        results: queue.Queue[tuple[_Worker, list[tuple[str, Parsed | str]] | BaseException | None]],
    ) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_SERVER_DIR, env.get("PYTHONPATH")]))
        self.outstanding = 0  # batches sent and not answered yet
        self._closed = False
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", WORKER_MODULE],  # -P: never import from the working directory
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._write(root)
        self._reader = threading.Thread(target=self._read, args=(results,), daemon=True)
        self._reader.start()

    def send(self, batch: list[tuple[str, str]] | None) -> None:
        """Queue a batch; None says there are no more (the worker then exits)."""
        if self._closed:
            return
        if batch is None:
            self._closed = True
            with contextlib.suppress(OSError):
                self.process.stdin.close()  # type: ignore[union-attr]
            return
        self.outstanding += 1
        self._write(batch)

    def _write(self, message: object) -> None:
        # A batch is a short list of paths: the pipe holds two of them, so this does not block
        # for long, and the worker reads the next one as soon as it has written its results.
        try:
            pickle.dump(message, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[arg-type]
            self.process.stdin.flush()  # type: ignore[union-attr]
        except OSError:
            pass  # the worker died; its output ends early and that is reported

    def _read(
        self, results: queue.Queue[tuple[_Worker, list[tuple[str, Parsed | str]] | BaseException | None]]
    ) -> None:
        assert self.process.stdout is not None
        try:
            while True:
                try:
                    item = pickle.load(self.process.stdout)
                except EOFError:
                    break
                results.put((self, item))
            results.put((self, None))
        except Exception as exc:  # a truncated or garbled message: the worker crashed
            results.put((self, RuntimeError(f"a parse worker failed ({type(exc).__name__}: {exc})")))

    def exit_status(self) -> str:
        code = self.process.wait()
        return f"exit status {code}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class _transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, *rest: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _stat_key(info: os.stat_result) -> tuple[int, int, int]:
    return info.st_size, info.st_mtime_ns, info.st_ino


def _chunks(items: list, size: int = _SQL_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
