"""Regular-expression search over the repository's text files, one line at a time.

Python's `re` decides every hit, on one line of the decoded text, so results never depend on
how they were found. Two shortcuts make that fast on large trees without changing them:

- In a git work tree with many files, `git grep` lists the lines that hold a literal every
  match must contain (see `required_literal`); only those lines are decoded and matched.
  What git cannot speak for (symlinks, which it skips; files it calls binary; unsaved
  buffers; a file cut at its per-file cap) is read and searched here.
- Otherwise a file's whole text is searched at once, and a line is looked at only where the
  whole-text search found something.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from pathlib import Path

from . import gitsafe
from .errors import WorkspaceError
from .text import decode, split_lines

try:  # the parser behind `re`: private, so every use below falls back when it changes
    import re._constants as _sre
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover - other Pythons
    _sre = _sre_parse = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

MAX_HIT_CHARS = 300
GREP_MAX_FILE_BYTES = 5 * 1024 * 1024
"""Larger files are generated data or logs far more often than code; grep skips them."""
PREFILTER_MIN_FILES = 200
"""Below this many files, reading them all is as fast as asking git first."""
MIN_LITERAL = 3
GIT_GREP_TIMEOUT_S = 60
GIT_OUTPUT_LIMIT = 8 * 1024 * 1024
"""More output than this from git (a literal on most lines): read the files here instead,
which stops as soon as `max_results` hits are found."""
MAX_EXCLUDED = 100
"""At most this many too-large files are excluded by name from git's search."""

# Constructs whose meaning changes once a line is embedded in the whole text: absolute
# anchors, lookarounds, atomic groups and possessive quantifiers (they can see or swallow
# the line's end). A pattern free of them that matches a line at some position also matches
# the whole text at that position (with ^ and $ in multiline mode), so the whole-text search
# finds every line that can match.
_CONTEXT_SENSITIVE = re.compile(r"\\[AZz]|\(\?(?:[=!>]|<[=!])|[*+?}]\+")


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
        if not isinstance(regex, str):
            raise WorkspaceError(f"the regex must be a string, not {type(regex).__name__}")
        try:
            self.pattern = re.compile(regex)
            # Multiline so that ^ and $ match at every line's start and end in the whole text.
            self.whole = None if _CONTEXT_SENSITIVE.search(regex) else re.compile(regex, re.MULTILINE)
        except re.error as exc:
            raise WorkspaceError(f"invalid regular expression {regex!r}: {exc}") from None
        # Lines are matched without their "\r\n", but a multiline "$" does not match before "\r".
        self.whole_crlf = "$" not in regex
        self.literal = required_literal(regex)

    def line(self, line: str) -> str | None:
        """The shown text of `line` (without its line ending) if it matches, else None."""
        match = self.pattern.search(line)
        return None if match is None else _shown(line, match.start())

    def lines(self, text: str) -> list[tuple[int, str]]:
        whole = self.whole
        if whole is None or (not self.whole_crlf and "\r" in text):
            return self._each_line(text)
        # Search from a line's start; the first match found starts on the first line that can
        # match (see _CONTEXT_SENSITIVE), which is then matched on its own; go on after it.
        found: list[tuple[int, str]] = []
        size = len(text)
        number = 1
        position = counted = 0
        while position < size:
            match = whole.search(text, position)
            if match is None:
                break
            start = match.start()
            previous = text.rfind("\n", position, start)
            begin = position if previous < 0 else previous + 1
            if begin == size:
                break  # an empty match after the last newline: there is no line there
            end = text.find("\n", start)
            if end < 0:
                end = size
            number += text.count("\n", counted, begin)
            counted = begin
            shown = self.line(text[begin:end].rstrip("\r"))
            if shown is not None:
                found.append((number, shown))
            position = end + 1
        return found

    def _each_line(self, text: str) -> list[tuple[int, str]]:
        found: list[tuple[int, str]] = []
        for number, line in enumerate(split_lines(text), start=1):
            shown = self.line(line.rstrip("\r\n"))
            if shown is not None:
                found.append((number, shown))
        return found

    def candidate_lines(self, lines: Iterable[tuple[int, bytes]]) -> list[tuple[int, str]]:
        """The matching lines among (line number, raw bytes without "\n") reported by git."""
        found: list[tuple[int, str]] = []
        for number, raw in lines:
            line = raw.decode("utf-8", "replace")
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]  # as `decode` drops a byte-order mark
            shown = self.line(line.rstrip("\r"))
            if shown is not None:
                found.append((number, shown))
        return found


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
    necessary condition, so a file without it cannot hold a match.
    """
    if _sre_parse is None:
        return None
    try:
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
) -> list[Hit]:
    """Hits of `matcher` in `paths` (in their order, at most `max_results`), reading `overlay`
    texts in place of files; `git` says how git may help, None when it may not."""
    too_large = [path for path in paths if sizes[path] > GREP_MAX_FILE_BYTES]
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
    for path in paths:
        if sizes[path] > GREP_MAX_FILE_BYTES:
            continue
        text = overlay.get(path)
        if text is None and from_git is not None and path not in git.links and path not in from_git.reread:
            found = matcher.candidate_lines(from_git.lines.get(path, ()))
        else:
            if text is None:
                try:
                    text = decode((root / path).read_bytes())
                except OSError as exc:
                    log.warning("grep: cannot read %s: %s", path, exc)
                    continue
            found = matcher.lines(text)
        for number, shown in found:
            hits.append(Hit(path, number, shown))
            if len(hits) >= max_results:
                return hits
    if too_large:
        log.info("grep skipped %d files larger than %d bytes", len(too_large), GREP_MAX_FILE_BYTES)
    return hits


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
