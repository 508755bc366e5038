"""Finding the `path:line` citations in an answer and checking each one against the repository.

A citation is *verified* when its file is in the repository, its lines exist, and the run saw it:
the line appeared in what the model's code got back from the repository, in a REPL output or in
the evidence block, or it is the definition line of a symbol the answer names beside it. A line
that exists but that the run never saw is "not seen": still a place in the repository (shown and
linked), but nothing the model read vouches for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from reporlm.workspace.languages import language_of

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


NOT_SEEN = "not seen in this run"
MAX_DEFINITION_CHECKS = 50
MAX_NAMES_PER_LINE = 20
"""Citations checked against the definitions named beside them (a lookup each); the rest need seen lines."""
# `path:12`, `path:12-30`, `path 12` (print(h.path, h.line)), `path::Name (line 12)` (the evidence).
_SEEN_IN_TEXT = re.compile(
    r"(?P<path>(?:[\w@+\-.]+/)*[\w@+\-.]*[\w\-]\.[A-Za-z][A-Za-z0-9_]*)"
    r"(?:::[\w.<>]+ \(line |:| +)(?P<start>\d+)(?:-(?P<end>\d+))?"
)
_NAME_NEAR = re.compile(r"[A-Za-z_][\w]*(?:(?:\.|::)[A-Za-z_][\w]*)*")
_MAP_ENTRY = re.compile(r"^\s+(\d+): ")


class SeenLines:
    """The lines of each file a run has seen: returned by a repository call, printed, or in the evidence."""

    def __init__(self) -> None:
        self._points: dict[str, set[int]] = {}
        self._ranges: dict[str, list[tuple[int, int]]] = {}

    def add(self, path: str, start: int, end: int | None = None) -> None:
        if end is None or end == start:
            self._points.setdefault(path, set()).add(start)
        else:
            self._ranges.setdefault(path, []).append((start, end))

    def add_text(self, text: str) -> None:
        """Every `path:line` (or `path line`) a printed text shows."""
        for m in _SEEN_IN_TEXT.finditer(text):
            start = int(m.group("start"))
            self.add(m.group("path").removeprefix("./"), start)
            if m.group("end"):
                self.add(m.group("path").removeprefix("./"), int(m.group("end")))

    def add_map(self, text: str) -> None:
        """The definitions a repository map lists: a path line, then `  12: signature` lines."""
        path = None
        for line in text.splitlines():
            if line and not line[0].isspace():
                path = line.strip() if "/" in line or "." in line else None
                continue
            m = _MAP_ENTRY.match(line)
            if path and m:
                self.add(path, int(m.group(1)))

    def add_value(self, value: object, path: str | None = None) -> None:
        """The places a repository call returned: records with a path and lines, lists of them."""
        if isinstance(value, list | tuple):
            for item in value[:100_000]:
                self.add_value(item, path)
            return
        where = getattr(value, "path", None) or path
        line = getattr(value, "line", None)
        if isinstance(where, str) and isinstance(line, int):
            self.add(where, line)
            for attribute in ("end_line",):
                other = getattr(value, attribute, None)
                if isinstance(other, int):
                    self.add(where, other)
            calls = getattr(value, "calls", None)
            if isinstance(calls, list | tuple):
                for call in calls:
                    if isinstance(call, int):
                        self.add(where, call)

    def covers(self, path: str, start: int, end: int) -> bool:
        if any(start <= line <= end for line in self._points.get(path, ())):
            return True
        return any(a <= end and start <= b for a, b in self._ranges.get(path, ()))


@dataclass(frozen=True)
class Citation:
    path: str
    start: int
    end: int
    verified: bool
    reason: str = ""
    """Why verification failed (empty when verified); NOT_SEEN for a real line the run never saw."""

    @property
    def exists(self) -> bool:
        """The lines are in the repository (verified, or real but not seen)."""
        return self.verified or self.reason == NOT_SEEN

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


def verify(answer: str, repo: LineSource, seen: SeenLines | None = None) -> list[Citation]:
    """Check each citation: the file is in the repository and the lines exist, and (given what the
    run has `seen`) the run saw them or they define a symbol the answer names beside them."""
    out: list[Citation] = []
    counts: dict[str, int | str] = {}
    checks = 0
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
        elif seen is None or seen.covers(path, start, end):
            out.append(Citation(path, start, end, True))
        else:
            checks += 1
            named = checks <= MAX_DEFINITION_CHECKS and _defines_a_named_symbol(answer, path, start, repo)
            out.append(Citation(path, start, end, named, "" if named else NOT_SEEN))
    return out


def _defines_a_named_symbol(answer: str, path: str, line: int, repo: LineSource) -> bool:
    """Whether the answer's line that cites `path:line` names a symbol defined there (a decorator
    or two above the name counts)."""
    definitions = getattr(repo, "definitions", None)
    if not callable(definitions):
        return False
    cited = f"{path}:{line}"
    for text_line in answer.splitlines():
        if cited not in text_line:
            continue
        rest = text_line.replace(cited, " ")
        # Backticked names first, then the line's other words (a prose word defined at exactly the
        # cited line is the name being cited, too).
        names = [t.strip().removesuffix("()") for t in _BACKTICKED.findall(rest)]
        names += [m.group(0) for m in _NAME_NEAR.finditer(rest)]
        for name in [n for n in dict.fromkeys(names) if _NAME_NEAR.fullmatch(n)][:MAX_NAMES_PER_LINE]:
            try:
                found = definitions(name.replace("::", "."))
            except Exception:
                continue
            if any(d.path == path and d.line - 3 <= line <= d.line for d in found[:50]):
                return True
    return False


# -- the places a change plan names: files and symbols as well as line citations ---------------

_BACKTICKED = re.compile(r"`([^`\n]+)`")
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$][\w$]*)*(?:\(\))?")
_SYMBOL_SEPARATORS = re.compile(r"\.|::|#")
# A definition of NAME in most languages: `def NAME`, `class NAME`, `func (r T) NAME`, `fn NAME`,
# `NAME = ...` at the start of a line, `NAME: ...` (YAML, annotations), `NAME(...) {` (JS methods).
_DEFINITION = (
    r"^\s*(?:(?:export|default|pub(?:\([^)]*\))?|public|private|protected|internal|static|async|abstract|"
    r"final|override|virtual|inline|unsafe|sealed|data|open)\s+)*"
    r"(?:def|class|function\*?|func|fn|struct|enum|interface|trait|type|union|module|object|record|"
    r"let|var|const|val|impl|macro_rules!)\s+(?:\([^)]*\)\s*)?{name}\b"
    r"|^\s*(?:export\s+)?[\"']?{name}[\"']?\s*(?::[^=\n]*)?=(?!=)"
    r"|^\s*[\"']?{name}[\"']?:(?:\s|$)"
    r"|^\s*(?:async\s+|static\s+)*{name}\s*\([^)]*\)\s*(?::[^{{]*)?\{{"
)
MAX_DEFINITIONS = 20


class RepoView(LineSource, Protocol):
    """What checking files and symbols needs of a repository (`workspace.Repo` has all of it)."""

    def files(self, pattern: str = "**/*", under: str | None = None) -> list[str]: ...

    def grep(
        self, regex: str, glob: str | None = None, under: str | None = None, max_results: int = 200
    ) -> list[Any]: ...


@dataclass(frozen=True)
class Reference:
    """A place a text names, checked against the repository.

    `kind` is "lines" (a `path:line` citation), "file" (a path in backticks) or "symbol" (a
    function, class or setting in backticks). A verified symbol carries the path and line of its
    definition; an unverified reference carries the reason.
    """

    kind: str
    text: str
    """As written in the text, e.g. `shop/retry.py:3-9`, `shop/retry.py` or `with_retries`."""
    path: str | None
    start: int | None
    end: int | None
    verified: bool
    reason: str = ""


def looks_like_path(token: str) -> bool:
    """Whether a backticked token names a file or folder (`src/a.py`, `setup.cfg`, `docs/`)."""
    if any(c in token for c in " :()[]{}<>=,\"'") or token.startswith(("-", "http")):
        return False
    if "/" in token:
        return bool(re.fullmatch(r"(?:\.{0,2}/)?[\w@+\-.]+(?:/[\w@+\-.]+)*/?", token))
    known = language_of(token) is not None or token.rpartition(".")[2] in _CONFIG_EXTENSIONS
    return "." in token[1:] and known


_CONFIG_EXTENSIONS = frozenset({"cfg", "ini", "conf", "lock", "env", "properties", "txt", "csv", "in"})


def verify_references(text: str, repo: RepoView, *, symbols_in: str | None = None) -> list[Reference]:
    """Every `path:line`, backticked file path and backticked symbol in `text`, checked.

    Symbols are only looked for in `symbols_in` (default: the whole text), because ordinary prose
    puts many non-symbols in backticks (`None`, `--flag`, `x = 1`).
    """
    out: list[Reference] = []
    seen: set[tuple[str, str]] = set()

    def add(ref: Reference) -> None:
        if (ref.kind, ref.text) not in seen:
            seen.add((ref.kind, ref.text))
            out.append(ref)

    for c in verify(text, repo):
        add(Reference("lines", c.label(), c.path, c.start, c.end, c.verified, c.reason))
    cited = {path for path, _, _ in extract(text)}
    for token in _BACKTICKED.findall(text):
        token = token.strip()
        if looks_like_path(token) and token.removeprefix("./") not in cited:
            add(_check_path(token, repo))
    for token in _BACKTICKED.findall(text if symbols_in is None else symbols_in):
        token = token.strip()
        if not looks_like_path(token) and _IDENTIFIER.fullmatch(token) and not extract(token):
            add(_check_symbol(token, repo))
    return out


def find_definitions(name: str, repo: RepoView) -> list[tuple[str, int]]:
    """(path, line) of the definitions of `name` (the last part of `a.b`, `a::b`, `A#b`).

    The repository's symbol index answers first (exact, tree-sitter); a search for definition-like
    lines covers what it does not parse, such as keys in configuration files.
    """
    definitions = getattr(repo, "definitions", None)
    if callable(definitions):
        found = [(s.path, s.line) for s in definitions(name)][:MAX_DEFINITIONS]
        if found:
            return found
    regex = _DEFINITION.format(name=re.escape(name))
    return [(h.path, h.line) for h in repo.grep(regex, max_results=MAX_DEFINITIONS)]


def _check_path(token: str, repo: RepoView) -> Reference:
    path = token.removeprefix("./").rstrip("/")
    try:
        count = repo.line_count(path)
    except Exception as exc:  # the repository says why: missing, outside, binary, a folder, ...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        try:
            if repo.files(under=path):
                return Reference("file", token, path, None, None, True)
        except Exception:
            pass
        return Reference("file", token, path, None, None, False, reason)
    return Reference("file", token, path, 1, max(1, count), True)


def _check_symbol(token: str, repo: RepoView) -> Reference:
    parts = _SYMBOL_SEPARATORS.split(token.removesuffix("()"))
    try:
        found = find_definitions(parts[-1], repo)
        owners = {path for path, _ in find_definitions(parts[-2], repo)} if len(parts) > 1 else set()
    except Exception as exc:
        return Reference("symbol", token, None, None, None, False, f"could not search for it: {exc}")
    if not found:
        return Reference("symbol", token, None, None, None, False, f"no definition of {parts[-1]} found")
    if len(parts) > 1:
        if not owners:
            return Reference("symbol", token, None, None, None, False, f"no definition of {parts[-2]} found")
        # `Owner.member`: prefer the member defined in the owner's file.
        found = sorted(found, key=lambda hit: hit[0] not in owners)
    path, line = found[0]
    return Reference("symbol", token, path, line, line, True)
