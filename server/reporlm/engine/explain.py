"""Explaining the symbol at a place in a file: find what is there, then ask about it.

The place comes as a repo-relative path, a 1-based line and a 0-based column counted in
characters; the file is read through the repository, so an unsaved buffer is what gets explained.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from reporlm.engine.prompting import PromptSet
from reporlm.engine.result import RunResult

_WORD = re.compile(r"[A-Za-z_$][\w$]*")
_QUALIFIER = re.compile(r"((?:[A-Za-z_$][\w$]*(?:\.|::|->))+)$")
_SELF = ("self.", "this.", "cls.", "self::", "this->")
# A line that opens a definition, in the languages people usually ask about.
_DEFINES = re.compile(
    r"^(?P<indent>\s*)(?:(?:export|default|pub(?:\([^)]*\))?|public|private|protected|static|async|abstract|"
    r"final|override|virtual|inline)\s+)*"
    r"(?:def|class|function\*?|func|fn|struct|enum|interface|trait|impl|type|module)\s+"
    r"(?:\([^)]*\)\s*)?(?P<name>[A-Za-z_$][\w$]*)"
)
MAX_LINE_CHARS = 400
# Keywords are never what someone wants explained: the definition around them is.
# fmt: off
_KEYWORDS = frozenset({
    "def", "class", "function", "func", "fn", "return", "if", "else", "elif", "for", "while", "in", "is",
    "not", "and", "or", "import", "from", "as", "with", "try", "except", "finally", "raise", "pass", "break",
    "continue", "lambda", "yield", "await", "async", "const", "let", "var", "new", "public", "private",
    "protected", "static", "struct", "enum", "interface", "impl", "type", "module", "pub", "use", "mut",
    "self", "this", "None", "True", "False", "null", "true", "false", "nil",
})
# fmt: on


class TextSource(Protocol):
    def read(self, path: str, start: int | None = None, end: int | None = None) -> str: ...


@dataclass(frozen=True)
class ExplainTarget:
    symbol: str
    """The identifier at the position, with its qualifier (`session.ask`), or the enclosing definition."""
    path: str
    line: int
    line_text: str
    enclosing: str | None = None
    """`name` (path:line) of the definition the position lies in, if any."""


@dataclass
class ExplainResult:
    """An explain run: the run itself (answer = the explanation) and what it explained."""

    run: RunResult
    target: ExplainTarget


class NothingToExplain(ValueError):
    """The position holds no identifier and lies in no definition (a blank line at top level)."""


def target_at(repo: TextSource, path: str, line: int, column: int) -> ExplainTarget:
    """What is at `path:line`, column `column`; raises NothingToExplain, or the repository's error."""
    text = repo.read(path)
    # Split on "\n" only, as editors and git count lines (str.splitlines also splits on \f, \u2028).
    lines = [part.removesuffix("\r") for part in text.split("\n")]
    if len(lines) > 1 and text.endswith("\n"):
        lines.pop()  # the empty "line" after the last newline; git and grep do not count it
    if not 1 <= line <= max(1, len(lines)):
        raise NothingToExplain(f"{path} has {len(lines)} lines; there is no line {line}")
    current = lines[line - 1] if lines else ""
    enclosing = _enclosing_symbol(repo, path, line) or _enclosing(lines, line)
    symbol = _identifier_at(current, column)
    if symbol is None:
        if enclosing is None:
            raise NothingToExplain(f"no symbol at {path}:{line}:{column + 1} and no definition around it")
        symbol = enclosing[0]
    where = f"{enclosing[0]}` ({path}:{enclosing[1]})" if enclosing and enclosing[0] != symbol else None
    return ExplainTarget(
        symbol=symbol,
        path=path,
        line=line,
        line_text=current.strip()[:MAX_LINE_CHARS],
        enclosing=f"`{where}" if where else None,
    )


def explain_question(prompts: PromptSet, target: ExplainTarget) -> str:
    return prompts.task(
        "explain",
        symbol=target.symbol,
        path=target.path,
        line=target.line,
        line_text=target.line_text,
        enclosing=f", inside {target.enclosing}" if target.enclosing else "",
    )


def _identifier_at(text: str, column: int) -> str | None:
    for m in _WORD.finditer(text):
        if m.start() <= column <= m.end():
            if m.group(0) in _KEYWORDS:
                return None
            qualifier = _QUALIFIER.search(text[: m.start()])
            full = (qualifier.group(1) if qualifier else "") + m.group(0)
            for prefix in _SELF:
                full = full.removeprefix(prefix)
            return full
    return None


def _enclosing_symbol(repo: TextSource, path: str, line: int) -> tuple[str, int] | None:
    """The innermost definition holding `line`, from the repository's symbol index if it has one."""
    symbol_at = getattr(repo, "symbol_at", None)
    if not callable(symbol_at):
        return None
    try:
        inner = symbol_at(path, line)
    except Exception:  # a language without symbol support, an index that failed: fall back
        return None
    return (inner.name, inner.line) if inner is not None else None


def _enclosing(lines: list[str], line: int) -> tuple[str, int] | None:
    """The nearest definition at or above `line` whose body holds it (by indentation)."""
    target = lines[line - 1] if 0 < line <= len(lines) else ""
    indent = len(target) - len(target.lstrip()) if target.strip() else None
    for number in range(line, 0, -1):
        m = _DEFINES.match(lines[number - 1])
        if m is None:
            continue
        if number == line or indent is None or len(m.group("indent")) < indent:
            return m.group("name"), number
    return None
