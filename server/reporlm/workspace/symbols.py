"""The records the symbol functions of `repo` return, and how names are matched."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .errors import WorkspaceError
from .languages import language_of
from .regex import LinearRegex
from .tags import Definition

MODULE = "<module>"
"""The name of a file's module-level code, where it is the caller (`path::<module>`)."""


@dataclass(frozen=True)
class Symbol:
    """A definition: `parent` is the qualified name of what encloses it ("" at the top level)."""

    name: str
    kind: str  # class, function, method, interface, enum, type, module, constant, field, variable, macro
    path: str
    line: int  # line of the name, 1-based
    end_line: int  # last line of the definition
    parent: str

    @property
    def qualified(self) -> str:
        """`parent.name` ("Session.request"), or `name` at the top level."""
        return f"{self.parent}.{self.name}" if self.parent else self.name

    def __str__(self) -> str:
        return f"{self.path}:{self.line}-{self.end_line} {self.kind} {self.qualified}"


@dataclass(frozen=True)
class Caller(Symbol):
    """A definition whose body calls the name asked about (`<module>`: the file's top-level code),
    with the lines of those calls."""

    calls: tuple[int, ...] = ()

    def __str__(self) -> str:
        lines = ", ".join(map(str, self.calls))
        return f"{self.path}:{self.line} {self.kind} {self.qualified} (calls at {lines})"


@dataclass(frozen=True)
class Subclass(Symbol):
    """A class inheriting from the name asked about, directly or through other classes; `bases`
    are the names its header gives, as written."""

    bases: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.kind} {self.qualified}({', '.join(self.bases)})"


@dataclass(frozen=True)
class Match(Symbol):
    """A definition found by `repo.search`, with its doc (first paragraph) and its score."""

    doc: str = ""
    score: float = 0.0

    def __str__(self) -> str:
        head = f"{self.path}:{self.line} {self.kind} {self.qualified}"
        return f"{head}: {self.doc}" if self.doc else head


@dataclass(frozen=True)
class Importer:
    """A file that imports the module or name asked about: its first such import statement."""

    path: str
    line: int
    text: str  # that line, stripped

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def symbol(path: str, definition: Definition) -> Symbol:
    return Symbol(
        definition.name, definition.kind, path, definition.line, definition.end_line, definition.parent
    )


def split_path_name(name: object) -> tuple[str | None, object]:
    """`src/a.py::Order.submit` -> ("src/a.py", "Order.submit"); anything else -> (None, name).

    The `path::QualifiedName` form is what the code-intelligence functions print, so a model may
    pass it back as it read it.
    """
    if isinstance(name, str) and "::" in name:
        path, _, rest = name.strip().partition("::")
        # A path has a folder or a file extension we know (`Type::method` in C++ or Rust has neither).
        if rest and " " not in path and ("/" in path or language_of(path) is not None):
            return path, rest
    return None, name


def name_matcher(name: object) -> tuple[str | None, Callable[[Definition], bool]]:
    """For a name such as `helper`, `Order.submit` or `test_*`: the exact simple name to look up
    (None for a pattern) and a predicate on definitions."""
    if not isinstance(name, str) or not name.strip():
        raise WorkspaceError("a symbol name must be a non-empty string, such as 'parse' or 'Parser.parse'")
    name = name.strip()
    if any(ch in name for ch in "*?["):
        # fnmatch's semantics, matched by RE2: many wildcards cannot make this slow.
        regex = LinearRegex(_wildcards(name), lines=False, role=f"name pattern {name!r}")

        def matches_pattern(d: Definition) -> bool:
            return regex.fullmatch(d.name.encode("utf-8", "replace")) or regex.fullmatch(
                d.qualified.encode("utf-8", "replace")
            )

        return None, matches_pattern
    parent, dot, simple = name.replace("::", ".").rpartition(".")
    if not dot:
        return simple, lambda d: True
    return simple, lambda d: d.parent == parent or d.parent.endswith("." + parent)


def _wildcards(pattern: str) -> str:
    """An fnmatch pattern (`*`, `?`, `[seq]`, `[!seq]`) as a regular expression."""
    out: list[str] = ["(?s)"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            j = i + 1 if pattern[i : i + 1] == "!" else i
            j = j + 1 if pattern[j : j + 1] == "]" else j
            j = pattern.find("]", j)
            if j < 0:
                out.append("\\[")
                continue
            body = pattern[i:j].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = j + 1
        else:
            out.append(re.escape(ch))
    return "".join(out)


def kind_matcher(kind: object) -> Callable[[str], bool]:
    if kind is None:
        return lambda k: True
    kinds = {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list | tuple | set) else None
    if not kinds or not all(isinstance(k, str) for k in kinds):
        raise WorkspaceError("kind must be a string such as 'class' or 'function', or a list of them")
    return lambda k: k in kinds
