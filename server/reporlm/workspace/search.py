"""Regular-expression search over the repository's text files, one line at a time.

Patterns come from the model, so they run on RE2 (see `regex`): linear time, and the GIL is
released while it matches. A line matches when the pattern matches that line alone, without
its line ending. Two shortcuts make that fast on large trees without changing the result:

- In a git work tree with many files, `git grep` lists the lines that hold a literal every
  match must contain (see `required_literal`); only those lines are matched here.
  What git cannot speak for (symlinks, which it skips; files it calls binary; unsaved
  buffers; a file cut at its per-file cap) is read and searched here.
- Otherwise a file is searched in blocks of whole lines; RE2 never matches across a newline
  in line mode, so a match it finds in a block lies on one line, which is the hit.

Every file is read under the workspace's size cap, and the caller's deadline is checked
between files and between blocks (see `limits`).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from pathlib import Path

from . import gitsafe
from .errors import WorkspaceError
from .limits import MAX_READ_BYTES, MAX_STREAM_BYTES, WorkspaceTimeout, check_deadline
from .regex import LinearRegex

try:  # the parser behind `re`: private, so every use below falls back when it changes
    import re._constants as _sre
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover - other Pythons
    _sre = _sre_parse = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

MAX_HIT_CHARS = 300
MAX_RESULTS = 100_000
"""The most hits one grep may ask for (each is a few hundred bytes, sent to the sandbox)."""
PREFILTER_MIN_FILES = 200
"""Below this many files, reading them all is as fast as asking git first."""
MIN_LITERAL = 3
GIT_GREP_TIMEOUT_S = 60
GIT_OUTPUT_LIMIT = 8 * 1024 * 1024
"""More output than this from git (a literal on most lines): read the files here instead,
which stops as soon as `max_results` hits are found."""
MAX_EXCLUDED = 100
"""At most this many too-large files are excluded by name from git's search."""
BLOCK_BYTES = 256 * 1024
"""Text is searched in blocks of whole lines about this large; the deadline is checked between them."""
_BOM = b"\xef\xbb\xbf"
# Pattern text that Python's parser reads differently from RE2: no literal is taken from it.
_NOT_PYTHON = re.compile(r"\[:|\\[pPQEC]|\\x\{")


@dataclass(frozen=True)
class Hit:
    """One matching line: `path` is repo-relative, `line` is 1-based."""

    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


class Matcher:
    """A compiled search: `lines(text)` yields (line number, shown text) of matching lines."""

    def __init__(self, regex: str) -> None:
        self.regex = LinearRegex(regex, lines=True)
        self.literal = required_literal(regex)

    def line(self, line: str) -> str | None:
        """The shown text of `line` (without its line ending) if it matches, else None."""
        data = searchable(line)
        start = self.regex.search(data)
        return None if start is None else _shown(data.decode("utf-8"), _chars(data, 0, start))

    def lines(self, text: str | bytes, limit: int | None = None) -> list[tuple[int, str]]:
        """The matching lines of a text (or a file's bytes), at most `limit` of them."""
        return self.lines_in(searchable(text), limit=limit)

    def lines_in(self, data: bytes, *, first: int = 1, limit: int | None = None) -> list[tuple[int, str]]:
        """The matching lines of `searchable` bytes whose first line is number `first`."""
        found: list[tuple[int, str]] = []
        size = len(data)
        number, counted = first, 0
        block = 0
        while block < size:
            check_deadline("repo.grep")
            end = data.find(b"\n", block + BLOCK_BYTES) if size - block > BLOCK_BYTES else -1
            end = size if end < 0 else end + 1
            position = block
            while position < end:
                start = self.regex.search(data, position, end)
                if start is None or (start == end and data[end - 1 : end] == b"\n"):
                    break  # an empty match right after a newline belongs to the next line (or none)
                begin = data.rfind(b"\n", position, start) + 1 or position
                stop = data.find(b"\n", start, end)
                stop = end if stop < 0 else stop
                number += data.count(b"\n", counted, begin)
                counted = begin
                found.append((number, _shown(data[begin:stop].decode("utf-8"), _chars(data, begin, start))))
                if limit is not None and len(found) >= limit:
                    return found
                position = stop + 1
            block = end
        return found

    def candidate_lines(self, lines: Iterable[tuple[int, bytes]]) -> list[tuple[int, str]]:
        """The matching lines among (line number, raw bytes without "\n") reported by git."""
        found: list[tuple[int, str]] = []
        for number, raw in lines:
            if number == 1 and raw.startswith(_BOM):
                raw = raw[3:]  # as `decode` drops a byte-order mark
            data = searchable(raw, file_start=False)
            start = self.regex.search(data)
            if start is not None:
                found.append((number, _shown(data.decode("utf-8"), _chars(data, 0, start))))
        return found


def searchable(text: str | bytes, *, file_start: bool = True) -> bytes:
    """Text as RE2 searches it: valid UTF-8 (undecodable bytes become U+FFFD, as `decode` makes
    them), no byte-order mark at the start of a file's bytes, and no "\r" at the end of a line
    (a line is matched without its line ending)."""
    if isinstance(text, str):
        data = text.encode("utf-8", "replace")  # a lone surrogate from a client's JSON: "?"
    else:
        data = text[3:] if file_start and text.startswith(_BOM) else text
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            data = data.decode("utf-8", "replace").encode("utf-8")
    if b"\r" in data:
        # Split and join, not a regex: a long run of "\r" would make `\r+\n` quadratic.
        lines = data.split(b"\n")
        stripped = [line.rstrip(b"\r") for line in lines]
        if lines[-1] and not stripped[-1]:
            stripped.append(b"")  # a last line of only "\r" stays a line: end it with a newline
        data = b"\n".join(stripped)
    return data


def _chars(data: bytes, begin: int, end: int) -> int:
    return len(data[begin:end].decode("utf-8", "replace"))


def _shown(line: str, start: int) -> str:
    """The line, or a window of it around the match when it is long (minified code)."""
    if len(line) <= MAX_HIT_CHARS:
        return line
    if start < MAX_HIT_CHARS - 50:
        return line[:MAX_HIT_CHARS] + "…"
    begin = max(0, start - 100)
    return "…" + line[begin : begin + MAX_HIT_CHARS] + ("…" if begin + MAX_HIT_CHARS < len(line) else "")


def required_literal(regex: str) -> str | None:
    """The longest text every match of `regex` must contain, or None if there is none to use.

    Only case-sensitive patterns without alternation at the top level qualify; the literal is a
    necessary condition, so a file without it cannot hold a match. Python's parser reads the
    pattern, so syntax it reads otherwise than RE2 (POSIX classes, \\p{...}, \\x{...}) gives none.
    """
    if _sre_parse is None or _NOT_PYTHON.search(regex):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "possible nested set" and friends
            parsed = _sre_parse.parse(regex)
    except Exception:
        return None
    if parsed.state.flags & (_sre.SRE_FLAG_IGNORECASE | _sre.SRE_FLAG_VERBOSE):
        return None
    best = ""
    for run in _literal_runs(list(parsed)):
        if len(run) > len(best):
            best = run
    if len(best) < MIN_LITERAL or any(ch in best for ch in "\r\n\x00\ufffd"):
        return None  # "\ufffd" may stand for any undecodable bytes in the text
    try:
        best.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no file's bytes hold it
        return None
    return best


def _literal_runs(items: list) -> list[str]:
    """Runs of consecutive literal characters in a parsed sequence, descending into groups that
    must match (capturing groups, repeats of at least one)."""
    runs: list[str] = []
    current: list[str] = []
    for op, value in items:
        if op is _sre.LITERAL:
            current.append(chr(value))
            continue
        if current:
            runs.append("".join(current))
            current = []
        if op is _sre.SUBPATTERN:
            group_flags = value[1]  # inline flags added by the group, such as (?i:...)
            if not group_flags:
                runs += _literal_runs(list(value[-1]))
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and value[0] >= 1:
            runs += _literal_runs(list(value[2]))
    if current:
        runs.append("".join(current))
    return runs


def grep_files(
    root: Path,
    paths: list[str],
    sizes: Mapping[str, int],
    overlay: Mapping[str, str],
    matcher: Matcher,
    *,
    max_results: int,
    git: GitScope | None,
    stream: Set[str] = frozenset(),
) -> list[Hit]:
    """Hits of `matcher` in `paths` (in their order, at most `max_results`), reading `overlay`
    texts in place of files; `git` says how git may help, None when it may not.

    Files over the read cap are skipped, except those in `stream` (a file the caller named),
    which are read block by block up to MAX_STREAM_BYTES.
    """
    too_large = [path for path in paths if sizes[path] > MAX_READ_BYTES and path not in stream]
    skipped = set(too_large)
    from_git = None
    if git is not None and matcher.literal is not None and len(paths) >= PREFILTER_MIN_FILES:
        from_git = git_lines(
            root,
            matcher.literal,
            folder=git.folder,
            exclude=too_large if len(too_large) <= MAX_EXCLUDED else [],
            max_count=max_results,
        )
    hits: list[Hit] = []
    for done, path in enumerate(paths):
        if path in skipped:
            continue
        text = overlay.get(path)
        limit = max_results - len(hits)
        try:
            if (
                text is None
                and from_git is not None
                and path not in git.links
                and path not in from_git.reread
            ):
                found = matcher.candidate_lines(from_git.lines.get(path, ()))
            elif text is not None:
                found = matcher.lines(text, limit) if sizes[path] <= MAX_READ_BYTES else []
            else:
                found = _search_file(root / path, matcher, limit, stream=path in stream)
        except OSError as exc:
            log.warning("grep: cannot read %s: %s", path, exc)
            continue
        except WorkspaceTimeout:
            raise WorkspaceTimeout(
                f"out of time: repo.grep had searched {done:,} of {len(paths):,} files ({len(hits)} hits) "
                "when its time limit ran out; narrow the search with glob= or under="
            ) from None
        for number, shown in found:
            hits.append(Hit(path, number, shown))
            if len(hits) >= max_results:
                return hits
    if too_large:
        log.info("grep skipped %d files larger than %d bytes", len(too_large), MAX_READ_BYTES)
    return hits


def _search_file(full: Path, matcher: Matcher, limit: int, *, stream: bool) -> list[tuple[int, str]]:
    """The matching lines of one file, read under the size cap (block by block when `stream`)."""
    with open(full, "rb") as handle:
        data = handle.read(MAX_READ_BYTES + 1)
        if len(data) <= MAX_READ_BYTES:
            return matcher.lines(data, limit)
        if not stream:
            log.info("grep: %s grew past the read limit since it was listed; skipped", full.name)
            return []
        found: list[tuple[int, str]] = []
        line = 1
        scanned = 0
        carry = b""
        while data and scanned < MAX_STREAM_BYTES and len(found) < limit:
            data = carry + data
            cut = data.rfind(b"\n") + 1
            if cut == 0 and len(data) > MAX_READ_BYTES:
                cut = len(data)  # a line longer than the read cap is searched in pieces
            block, carry = data[:cut], data[cut:]
            found += matcher.lines_in(
                searchable(block, file_start=line == 1), first=line, limit=limit - len(found)
            )
            line += block.count(b"\n")
            scanned += len(block)
            data = handle.read(BLOCK_BYTES * 4)
        if carry and scanned < MAX_STREAM_BYTES and len(found) < limit:
            found += matcher.lines_in(
                searchable(carry, file_start=False), first=line, limit=limit - len(found)
            )
        return found


@dataclass(frozen=True)
class GitScope:
    """What git's grep may search for a Repo: the files below `folder` ("" for all), except the
    symlinks among them (`links`), which git skips."""

    folder: str
    links: Set[str]


@dataclass
class GitLines:
    """Lines git's grep reported, by path, and the files it could not report line by line."""

    lines: dict[str, list[tuple[int, bytes]]]
    reread: set[str]  # called binary (by content or .gitattributes), or cut at the per-file cap


def git_lines(
    root: Path, literal: str, *, folder: str, exclude: list[str], max_count: int
) -> GitLines | None:
    """Lines of the files in git's view of `root` (tracked and untracked, not ignored) that hold
    `literal`; None when git is missing, fails, or says too much."""
    if shutil.which("git") is None:
        return None
    pathspecs = [f":(literal){folder}"] if folder else []
    pathspecs += [f":(exclude,literal){path}" for path in exclude]
    # The user's config must not change the output: colours, columns, paths from the top,
    # patterns read as regexes, or submodules searched.
    try:
        command = gitsafe.command(
            root,
            *("-c", "color.grep=never", "-c", "grep.column=false", "-c", "grep.fullName=false"),
            *("grep", "-n", "-z", "-F", "--untracked", "--no-recurse-submodules", f"--max-count={max_count}"),
            *("--no-textconv", "-e"),
            literal.encode("utf-8"),  # as the files' bytes hold it, whatever the locale
            "--",
            *pathspecs,
        )
    except WorkspaceError as exc:  # a configuration git cannot be run safely in
        log.info("%s; searching the files without git", exc)
        return None
    output = _run_limited(command)
    if output is None:
        return None
    found = GitLines({}, set())
    for record in output.split(b"\n"):
        if not record:
            continue
        parts = record.split(b"\0", 2)
        if len(parts) == 3 and parts[1].isdigit():
            found.lines.setdefault(parts[0].decode("utf-8", "surrogateescape"), []).append(
                (int(parts[1]), parts[2])
            )
        elif record.startswith(b"Binary file ") and record.endswith(b" matches"):
            found.reread.add(record[12:-8].decode("utf-8", "surrogateescape"))
        else:  # a path with a newline in it, say
            log.info("git grep wrote %r; searching the files without it", record[:200])
            return None
    found.reread.update(path for path, lines in found.lines.items() if len(lines) >= max_count)
    return found


def _run_limited(command: list[str | bytes]) -> bytes | None:
    """The standard output of a git grep that found something or nothing; None when it failed,
    timed out, or wrote more than GIT_OUTPUT_LIMIT bytes."""
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                command,
                env=gitsafe.environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
        except OSError as exc:
            log.info("git grep unavailable (%s); searching the files without it", exc)
            return None
        timer = threading.Timer(GIT_GREP_TIMEOUT_S, process.kill)
        timer.start()
        try:
            assert process.stdout is not None
            output = process.stdout.read(GIT_OUTPUT_LIMIT + 1)
            if len(output) > GIT_OUTPUT_LIMIT:
                log.info("git grep found too many lines; searching the files without it")
                return None
            code = process.wait()
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()  # type: ignore[union-attr]
        if code not in (0, 1):
            errors.seek(0)
            message = errors.read(300).decode("utf-8", "replace").strip()
            log.info("git grep failed (%s); searching the files without it", message or f"exit {code}")
            return None
    return output
