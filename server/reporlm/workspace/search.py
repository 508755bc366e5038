"""Line-by-line regular-expression search over file texts."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import WorkspaceError
from .listing import git_command, git_env
from .text import split_lines

try:  # the parser behind `re`: private, so every use below falls back when it changes
    import re._constants as _sre
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover - other Pythons
    _sre = _sre_parse = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

MAX_HIT_CHARS = 300
PREFILTER_MIN_FILES = 200
"""Below this many files, reading them all is as fast as asking git first."""
MIN_LITERAL = 3
GIT_GREP_TIMEOUT_S = 60

# Constructs whose meaning changes once a line is embedded in the whole text: absolute
# anchors, lookarounds and inline flags ("(?"), possessive quantifiers. A pattern free of
# them that matches a line also matches the whole text, so one search can rule out a file.
_CONTEXT_SENSITIVE = re.compile(r"\\[AZz]|\(\?|[*+?}]\+")


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
            # Multiline only so that ^ and $ still work at line ends in the whole-text check.
            self.prefilter = None if _CONTEXT_SENSITIVE.search(regex) else re.compile(regex, re.MULTILINE)
            # Lines are matched without their "\r\n", but a multiline "$" does not match before "\r".
            self.prefilter_crlf = "$" not in regex
        except re.error as exc:
            raise WorkspaceError(f"invalid regular expression {regex!r}: {exc}") from None

    def lines(self, text: str) -> list[tuple[int, str]]:
        prefilter = self.prefilter
        if prefilter is not None and (self.prefilter_crlf or "\r" not in text) and not prefilter.search(text):
            return []
        found: list[tuple[int, str]] = []
        search = self.pattern.search
        for number, line in enumerate(split_lines(text), start=1):
            line = line.rstrip("\r\n")
            match = search(line)
            if match is not None:
                found.append((number, _shown(line, match.start())))
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
    if len(best) < MIN_LITERAL or any(ch in best for ch in "\r\n\x00"):
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


def candidate_files(root: Path, regex: str, *, is_git: bool, count: int) -> set[str] | None:
    """Files under `root` that contain a literal `regex` needs, found by `git grep`; None when
    there is no such literal, git is missing or fails (then every file is a candidate)."""
    if count < PREFILTER_MIN_FILES or shutil.which("git") is None:
        return None
    literal = required_literal(regex)
    if literal is None:
        return None
    scope = ["--untracked"] if is_git else ["--no-index", "--exclude-standard"]
    command = git_command(root, "grep", "-l", "-z", "-F", *scope, "-e", literal, "--", ".")
    try:
        result = subprocess.run(
            command,
            env=git_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=GIT_GREP_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("git grep prefilter unavailable (%s); searching every file", exc)
        return None
    if result.returncode not in (0, 1):
        log.info("git grep prefilter failed (%s); searching every file", result.stderr[:200])
        return None
    names = result.stdout.decode("utf-8", "surrogateescape").split("\0")
    return {name for name in names if name}
