"""Finding the `path:line` citations in an answer and checking each one against the repository."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

# path:line or path:start-end, where path has an extension (a.py, src/x/y.ts) or at least one slash.
_CITATION = re.compile(
    r"(?<![\w/.\-])"
    r"(?P<path>(?:\.{0,2}/)?(?:[\w@+\-.]+/)*[\w@+\-.]*[\w\-]\.[A-Za-z][A-Za-z0-9_]*|(?:[\w@+\-.]+/)+[\w@+\-.]+)"
    r"(?:#L|:|, line |:L)(?P<start>\d+)(?:\s*[-–]\s*L?(?P<end>\d+))?"
)


class LineSource(Protocol):
    def line_count(self, path: str) -> int:
        """Lines in a repository file; raises for a path that is not a readable file of the repository."""
        ...


@dataclass(frozen=True)
class Citation:
    path: str
    start: int
    end: int
    verified: bool
    reason: str = ""
    """Why verification failed (empty when verified)."""

    def label(self) -> str:
        return f"{self.path}:{self.start}" + (f"-{self.end}" if self.end != self.start else "")


def extract(answer: str) -> list[tuple[str, int, int]]:
    """Every distinct (path, start, end) cited in the text, in order of appearance."""
    seen: dict[tuple[str, int, int], None] = {}
    for m in _CITATION.finditer(answer):
        path = m.group("path").removeprefix("./")
        start = int(m.group("start"))
        end = int(m.group("end") or start)
        if end < start:
            start, end = end, start
        seen.setdefault((path, start, end), None)
    return list(seen)


def verify(answer: str, repo: LineSource) -> list[Citation]:
    """Check each citation: the file is in the repository and the lines exist."""
    out: list[Citation] = []
    counts: dict[str, int | str] = {}
    for path, start, end in extract(answer):
        if path not in counts:
            try:
                counts[path] = repo.line_count(path)
            except Exception as exc:  # the repository says why: missing, outside, binary, ...
                counts[path] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        count = counts[path]
        if isinstance(count, str):
            out.append(Citation(path, start, end, False, count))
        elif start < 1 or end > count:
            out.append(Citation(path, start, end, False, f"{path} has {count} lines"))
        else:
            out.append(Citation(path, start, end, True))
    return out
