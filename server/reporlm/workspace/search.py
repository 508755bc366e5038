"""Line-by-line regular-expression search over file texts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import WorkspaceError
from .text import split_lines

MAX_HIT_CHARS = 300

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
