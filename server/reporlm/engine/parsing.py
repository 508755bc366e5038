"""Reading the root model's messages: the code block to run and the FINAL answer markers.

Small models drift from the protocol in predictable ways (MODELS.md): a ```python fence instead of
```repl, a stray leading `python` line, `Final(` in another case. Everything here is tolerant of
those, and strict about one thing: code comes from the first block only.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_FENCE = re.compile(
    r"```[ \t]*(repl|python|py|python3)?[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL | re.IGNORECASE
)
_ANY_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_FINAL_VAR = re.compile(
    r"^\s*FINAL_VAR\(\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?\s*\)", re.IGNORECASE | re.MULTILINE
)
_FINAL = re.compile(r"^\s*FINAL\((.*)", re.IGNORECASE | re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class FinalMarker:
    """A FINAL written as text outside code: either the answer itself or the name of a REPL variable."""

    text: str | None = None
    variable: str | None = None


def find_code(message: str) -> str | None:
    """The code of the first ```repl / ```python block, or None when the message has none.

    An untagged fence counts too when it looks like code, because small models often drop the tag.
    """
    for match in _FENCE.finditer(message):
        tag, body = match.group(1), match.group(2)
        if tag is None and not _looks_like_code(body):
            continue
        body = _strip_stray_language_line(body)
        if body.strip():
            return body.rstrip() + "\n"
    return None


def find_final(message: str) -> FinalMarker | None:
    """A FINAL(...) or FINAL_VAR(name) written outside any code block (the paper's text convention)."""
    prose = _ANY_FENCE.sub("", message)
    var = _FINAL_VAR.search(prose)
    if var:
        return FinalMarker(variable=var.group(1))
    match = _FINAL.search(prose)
    if not match:
        return None
    body = _balanced_body(match.group(1))
    body = _unquote(body.strip())
    return FinalMarker(text=body) if body else None


def _looks_like_code(body: str) -> bool:
    return bool(
        re.search(r"^\s*(import |from |print\(|for |def |[A-Za-z_]\w*\s*=|repo\.)", body, re.MULTILINE)
    )


def _strip_stray_language_line(body: str) -> str:
    lines = body.split("\n")
    if lines and lines[0].strip().lower() in {"python", "repl", "py"}:
        lines = lines[1:]
    return "\n".join(lines)


def _balanced_body(rest: str) -> str:
    """The text up to the parenthesis that closes FINAL(, or everything when it never closes."""
    depth = 1
    quote: str | None = None
    for i, ch in enumerate(rest):
        if quote:
            if ch == quote and rest[i - 1] != "\\":
                quote = None
            continue
        if ch in "\"'" and (i == 0 or rest[i - 1] in " (,\n"):
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return rest[:i]
    return rest


def _unquote(text: str) -> str:
    for q in ('"""', "'''", '"', "'"):
        if len(text) >= 2 * len(q) and text.startswith(q) and text.endswith(q):
            return text[len(q) : -len(q)].strip()
    return text


def truncate(text: str, limit: int) -> str:
    """Keep the head and the tail of long output and say how many characters were cut between them."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut} characters cut ...]\n{text[-tail:]}"


_ECHOED_ERROR = re.compile(r'\A\s*(?:File "<block \d+>", line \d+|Traceback \(most recent call last\):)')
_FINAL_CALL = re.compile(r"^(?:FINAL_VAR|FINAL)\(", re.IGNORECASE)


def echoes_an_error(code: str) -> bool:
    """Whether a "code" block is the REPL's error message copied back (small models do this)."""
    return bool(_ECHOED_ERROR.match(code))


def without_stray_lines(code: str) -> tuple[str, list[str]]:
    """The code before the first unindented line that is not Python, and the lines left out.

    Small models end a good block with prose or an answer template (`ANSWER:`, a bare `path:line`,
    a list they made up): the whole block is then a SyntaxError (or runs the template as an
    annotation, `ANSWER: src/app.py`) and its work is lost. The block is
    cut before the first such line, keeping a FINAL_VAR/FINAL line written after the prose. Only
    an unindented line counts (one inside a block could change what the rest means), and only a
    rest that parses is returned; otherwise the code comes back as it is.
    """
    lines = code.split("\n")
    at = _first_error_line(lines)
    if at is None or not _is_stray(lines, at):
        return code, []
    # A syntax error far down (a reply cut at its token limit) can hide an answer marker above it.
    while (
        (earlier := _first_error_line(lines[:at])) is not None
        and 0 <= earlier < at
        and _is_stray(lines, earlier)
    ):
        at = earlier
    head, tail = lines[:at], lines[at:]
    finals = [line for line in tail if _FINAL_CALL.match(line)]
    for kept in (head + finals, head):
        if "\n".join(kept).strip() and _first_error_line(kept) is None:
            skipped = [line for line in tail if line.strip() and (kept is head or line not in finals)]
            return "\n".join(kept) + "\n", skipped
    return code, []


def _is_stray(lines: list[str], at: int) -> bool:
    return 0 <= at < len(lines) and bool(lines[at].strip()) and not lines[at][:1].isspace()


def _first_error_line(lines: list[str]) -> int | None:
    """The 0-based line of the first syntax error or bare annotation, None when the lines parse
    (-1: not placeable).

    A top-level annotation without a value (`ANSWER: src/app/cli.py`) is valid Python but assigns
    nothing; in a REPL block it is an answer marker, and running it evaluates the "annotation"."""
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError as exc:
        return (exc.lineno or 0) - 1
    except ValueError:  # a NUL byte in the source
        return -1
    marker = next((s for s in tree.body if isinstance(s, ast.AnnAssign) and s.value is None), None)
    return None if marker is None else marker.lineno - 1


def grounded_lines(lines: list[str], output: str) -> list[str]:
    """The answer written as prose lines after a block's code, when each line names only what the
    block printed (`path:line`, `path::Qualified.name`, a path); else []. A marker line such as
    `ANSWER:` is left out. Small models print a lookup's results and retype them as their answer."""
    items = [line.strip().lstrip("-*• ").strip() for line in lines]
    items = [item for item in items if item and not item.endswith(":")]
    for item in items:
        path, sep, name = item.partition("::")
        shown = path in output and name.rsplit(".", 1)[-1] in output if sep else item in output
        if not shown or " " in item:
            return []
    return items


def joined_by_character(answer: str) -> str | None:
    """The text whose characters `answer` joins with newlines (what `"\\n".join(text)` makes of a
    string), or None. Small models join the one item they meant to answer with, so the answer
    comes out one character per line; eleven or fewer characters could be a real list."""
    text = answer[::2]
    if len(text) >= 12 and len(answer) % 2 == 1 and answer[1::2] == "\n" * (len(answer) // 2):
        return text
    return None


def assigns(code: str, name: str) -> bool:
    """Whether the code binds `name` (`name = ...`, `name += ...`, `for name in ...`)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(
        isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store)
        for node in ast.walk(tree)
    )


def parses(code: str) -> bool:
    return _first_error_line([code]) is None


def normalize_code(code: str) -> str:
    """A form of the code that ignores comments and layout, so re-running the same block is recognised."""
    try:
        return ast.dump(ast.parse(code))
    except (SyntaxError, ValueError):
        return "\n".join(line.strip() for line in code.splitlines() if line.strip())
