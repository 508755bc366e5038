"""Definitions and references of one file, from a tree-sitter parse and our tags query.

Query captures follow the tree-sitter tags conventions: `@definition.<kind>` or
`@reference.<kind>` on the whole node, `@name` on its name. Two captures are ours (see
grammars/README.md): `@scope` marks a named container that is not itself a definition (a Rust
`impl` block), and `@parent` names the parent explicitly where it is not an enclosing node (a Go
method's receiver type, a C++ `Type::method` defined out of line).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from tree_sitter import Node

    from .grammars import Grammar

log = logging.getLogger(__name__)

SIGNATURE_CHARS = 160
# Kinds whose nested functions are methods.
_CONTAINERS = frozenset({"class", "interface", "enum", "struct", "scope", "trait"})
# Kinds that never enclose other definitions: a C typedef wraps the struct it names, but the
# struct is not a member of the typedef.
_LEAVES = frozenset({"type", "constant", "variable", "field", "macro"})
_SPACES = re.compile(r"\s+")
_HEAD_BREAK = re.compile(rb"[{};(,=]")  # text before a definition on its line that is not a prefix


class Definition(NamedTuple):
    name: str
    kind: str
    line: int  # 1-based line of the name
    end_line: int  # last line of the whole definition
    parent: str  # qualified name of the enclosing definition ("" at the top level)
    signature: str  # the definition's head, whitespace collapsed: "def f(x, y):"

    @property
    def qualified(self) -> str:
        return f"{self.parent}.{self.name}" if self.parent else self.name


@dataclass
class FileTags:
    definitions: list[Definition]
    references: dict[str, list[int]]  # name -> sorted 1-based lines where it is referenced


class _Found(NamedTuple):
    start: int
    end: int
    name: str
    line: int
    kind: str
    node: Node
    explicit_parent: str | None
    is_scope: bool


class _Open(NamedTuple):
    start: int
    end: int
    qualified: str
    kind: str


def parse_tags(grammar: Grammar, source: bytes) -> FileTags:
    """All definitions and references of `source` (bytes of a file in `grammar`'s language)."""
    from tree_sitter import QueryCursor

    root = grammar.parser().parse(source).root_node
    query, is_reference = grammar.tags_query()

    # One pass of the whole query over the tree: walking the tree costs as much as matching.
    found_defs: dict[int, _Found] = {}  # by name start byte (scopes: negative keys)
    reference_names: list[Node] = []
    for pattern, captures in QueryCursor(query).matches(root):
        names = captures.get("name")
        if not names:
            continue
        if is_reference[pattern]:
            reference_names += names
            continue
        role = node = None
        for capture, nodes in captures.items():
            if capture.startswith("definition.") or capture == "scope":
                role, node = capture, nodes[0]
                break
        if role is None or node is None:
            continue
        name_node = names[0]
        start_byte = name_node.start_byte
        is_scope = role == "scope"
        if start_byte in found_defs and not is_scope:
            continue  # several patterns matched one definition: the first wins
        explicit = None
        parent_nodes = captures.get("parent")
        if parent_nodes:
            parent_node = parent_nodes[0]
            raw = source[parent_node.start_byte : parent_node.end_byte].decode("utf-8", "replace")
            explicit = raw.replace("::", ".")
        found_defs[-node.start_byte - 1 if is_scope else start_byte] = _Found(
            node.start_byte,
            node.end_byte,
            source[start_byte : name_node.end_byte].decode("utf-8", "replace"),
            name_node.start_point[0] + 1,
            "scope" if is_scope else role.removeprefix("definition."),
            node,
            explicit,
            is_scope,
        )
    return FileTags(_resolve(found_defs, source), _references(reference_names, found_defs, source))


def _references(names: list[Node], found_defs: dict[int, _Found], source: bytes) -> dict[str, list[int]]:
    """Referenced names and their lines, in the order they first occur.

    One name node may match several patterns, and a catch-all pattern may match a
    definition's own name (Go's type_identifier rule): each place counts once, and not at all
    where a definition is named.
    """
    # First capture wins at each start byte (names arrive in match order).
    ends = {node.start_byte: node.end_byte for node in reversed(names)}
    for key in found_defs:
        ends.pop(key, None)  # scopes have negative keys, never a start byte
    by_text: dict[bytes, list[int]] = {}
    line = 1
    previous = 0
    for start in sorted(ends):
        line += source.count(b"\n", previous, start)
        previous = start
        text = source[start : ends[start]]
        lines = by_text.get(text)
        if lines is None:
            by_text[text] = [line]
        else:
            lines.append(line)
    references: dict[str, list[int]] = {}
    for text, lines in by_text.items():
        name = text.decode("utf-8", "replace")
        known = references.get(name)  # invalid bytes that decode alike
        references[name] = lines if known is None else sorted(known + lines)
    return references


def _resolve(found: dict[int, _Found], source: bytes) -> list[Definition]:
    """Parents (by nesting, or explicit), method kinds and signatures, in source order."""
    # Outer before inner; a scope before a definition on the same node.
    ordered = sorted(found.values(), key=lambda d: (d.start, -d.end, not d.is_scope))
    stack: list[_Open] = []
    out: list[Definition] = []
    for start, end, name, line, kind, node, explicit, is_scope in ordered:
        while stack and not (stack[-1].start <= start and end <= stack[-1].end):
            stack.pop()
        enclosing = stack[-1] if stack else None
        if explicit is not None:
            parent, parent_kind = explicit, "class"
        elif enclosing is not None:
            parent, parent_kind = enclosing.qualified, enclosing.kind
        else:
            parent, parent_kind = "", ""
        qualified = f"{parent}.{name}" if parent else name
        if kind not in _LEAVES:
            stack.append(_Open(start, end, qualified, "scope" if is_scope else kind))
        if is_scope:
            continue
        if kind == "function" and parent_kind in _CONTAINERS:
            kind = "method"
        out.append(
            Definition(
                name=name,
                kind=kind,
                line=line,
                end_line=_end_line(node),
                parent=parent,
                signature=signature_of(node, source),
            )
        )
    out.sort(key=lambda d: d.line)
    return out


def _end_line(node: Node) -> int:
    row, column = node.end_point
    # A node that ends with its newline (a C #define) ends on the line before.
    return row if column == 0 and row > node.start_point[0] else row + 1


def signature_of(node: Node, source: bytes) -> str:
    """The head of a definition: from the start of its line to its body (or to the line's end).

    The line's text before the node is kept when it is a prefix such as `export const`, not
    when it belongs to something else (`enum State { OPEN`).
    """
    line_start = source.rfind(b"\n", 0, node.start_byte) + 1
    if _HEAD_BREAK.search(source, line_start, node.start_byte):
        line_start = node.start_byte
    body = node.child_by_field_name("body")
    if body is not None and body.start_byte > node.start_byte:
        stop = body.start_byte
    else:
        newline = source.find(b"\n", node.start_byte)
        stop = newline if newline != -1 else len(source)
    stop = min(stop, node.end_byte, line_start + 4 * SIGNATURE_CHARS)
    text = _SPACES.sub(" ", source[line_start:stop].decode("utf-8", "replace")).strip()
    text = text.rstrip("{").rstrip()
    if len(text) > SIGNATURE_CHARS:
        text = text[: SIGNATURE_CHARS - 1] + "…"
    return text
