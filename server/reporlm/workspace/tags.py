"""Definitions and references of one file, from a tree-sitter parse and our tags query.

Query captures follow the tree-sitter tags conventions: `@definition.<kind>` or
`@reference.<kind>` on the whole node, `@name` on its name. Some captures are ours (see
grammars/README.md): `@scope` marks a named container that is not itself a definition (a Rust
`impl` block), `@parent` names the parent explicitly where it is not an enclosing node (a Go
method's receiver type, a C++ `Type::method` defined out of line), `@reference.base` is a base
class named in a class header, and `@import` with `@import.module` (or `@import.relative`, a path
relative to the importing file), `@import.name` and `@import.alias` is an import statement and
what it imports.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from .docstrings import doc_of

if TYPE_CHECKING:
    from tree_sitter import Node

    from .grammars import Grammar

log = logging.getLogger(__name__)

SIGNATURE_CHARS = 160
# Kinds whose nested functions are methods.
_CONTAINERS = frozenset({"class", "interface", "enum", "struct", "scope", "trait"})
# Kinds that never enclose other definitions: a C typedef wraps the struct it names, but the
# struct is not a member of the typedef.
LEAF_KINDS = frozenset({"type", "constant", "variable", "field", "macro"})
# Kinds of references that name what a class inherits from (its header), for repo.subclasses.
HERITAGE_KINDS = frozenset({"base", "implementation"})
# Nodes that qualify a name they end with (`pkg.Base`, `a::B`, `A\\B`): a base's text is theirs.
_QUALIFYING = frozenset({
    "attribute", "member_expression", "scoped_identifier", "scoped_type_identifier", "qualified_name",
    "qualified_identifier", "scope_resolution", "nested_identifier", "nested_type_identifier",
})  # fmt: skip
_SEPARATORS = re.compile(r"::|->|\\")
_SPACES = re.compile(r"\s+")
_HEAD_BREAK = re.compile(rb"[{};(,=]")  # text before a definition on its line that is not a prefix


class Definition(NamedTuple):
    name: str
    kind: str
    line: int  # 1-based line of the name
    end_line: int  # last line of the whole definition
    parent: str  # qualified name of the enclosing definition ("" at the top level)
    signature: str  # the definition's head, whitespace collapsed: "def f(x, y):"
    doc: str = ""  # the first paragraph of its docstring (Python) or leading comment

    @property
    def qualified(self) -> str:
        return f"{self.parent}.{self.name}" if self.parent else self.name


class Base(NamedTuple):
    """A class header naming what the class inherits from or implements: `class Child(pkg.Base)`."""

    child: str  # qualified name of the inheriting definition (or of a Rust `impl` block's type)
    child_line: int  # the line of its name
    name: str  # the base's simple name: "Base"
    text: str  # the base as written, separators as dots: "pkg.Base"
    kind: str  # "base" (inherits) or "implementation" (implements an interface or trait)
    line: int


class Import(NamedTuple):
    """One imported module or name, as written: `from ..models import Request as R` is
    module "..models", name "Request", alias "R"; `import os` is module "os", name ""."""

    module: str  # dots and slashes kept; quotes of a string literal removed
    name: str  # "" when the module itself is imported; "*" for a wildcard
    alias: str
    line: int  # first line of the statement


@dataclass
class FileTags:
    definitions: list[Definition]
    references: dict[tuple[str, str], list[int]]  # (name, kind) -> sorted 1-based lines
    bases: list[Base] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)


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
    line: int


def parse_tags(grammar: Grammar, source: bytes) -> FileTags:
    """All definitions and references of `source` (bytes of a file in `grammar`'s language)."""
    from tree_sitter import QueryCursor

    root = grammar.parser().parse(source).root_node
    query, reference_kinds = grammar.tags_query()

    # One pass of the whole query over the tree: walking the tree costs as much as matching.
    found_defs: dict[int, _Found] = {}  # by name start byte (scopes: negative keys)
    reference_names: list[tuple[Node, str]] = []
    imports: list[Import] = []
    for pattern, captures in QueryCursor(query).matches(root):
        if "import" in captures:  # an import statement; it may name a reference too
            imports += _imports(captures, source)
        names = captures.get("name")
        if not names:
            continue
        kind = reference_kinds[pattern]
        if kind is not None:
            reference_names += [(node, kind) for node in names]
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
    definitions, opened = _resolve(found_defs, source, grammar.key)
    references = _references(reference_names, found_defs, source)
    return FileTags(definitions, references, _bases(reference_names, opened, source), imports)


def _references(
    names: list[tuple[Node, str]], found_defs: dict[int, _Found], source: bytes
) -> dict[tuple[str, str], list[int]]:
    """Referenced names with their kind and lines, in the order they first occur.

    One name node may match several patterns, and a catch-all pattern may match a
    definition's own name (Go's type_identifier rule): each place counts once, under the
    first kind found for it other than the catch-all "type", and not at all where a
    definition is named.
    """
    # First capture wins at each start byte (names arrive in match order), "type" last.
    places: dict[int, tuple[int, str]] = {}
    for node, kind in names:
        known = places.get(node.start_byte)
        if known is None or (known[1] == "type" and kind != "type"):
            places[node.start_byte] = (node.end_byte, kind)
    for key in found_defs:
        places.pop(key, None)  # scopes have negative keys, never a start byte
    by_text: dict[tuple[bytes, str], list[int]] = {}
    line = 1
    previous = 0
    for start in sorted(places):
        line += source.count(b"\n", previous, start)
        previous = start
        end, kind = places[start]
        key = (source[start:end], kind)
        lines = by_text.get(key)
        if lines is None:
            by_text[key] = [line]
        else:
            lines.append(line)
    references: dict[tuple[str, str], list[int]] = {}
    for (text, kind), lines in by_text.items():
        name = (text.decode("utf-8", "replace"), kind)
        known = references.get(name)  # invalid bytes that decode alike
        references[name] = lines if known is None else sorted(known + lines)
    return references


def _bases(names: list[tuple[Node, str]], opened: list[_Open], source: bytes) -> list[Base]:
    """The base classes (and implemented interfaces) named in class headers, each with the
    innermost definition whose node holds it: the class being declared."""
    out: list[Base] = []
    seen: set[int] = set()
    for node, kind in names:
        if kind not in HERITAGE_KINDS or node.start_byte in seen:
            continue
        seen.add(node.start_byte)
        holders = [o for o in opened if o.start <= node.start_byte and node.end_byte <= o.end]
        if not holders:
            continue
        child = max(holders, key=lambda o: (o.start, -o.end))
        whole = node
        while (
            whole.parent is not None
            and whole.parent.type in _QUALIFYING
            and whole.parent.end_byte == node.end_byte
        ):
            whole = whole.parent
        raw = source[whole.start_byte : whole.end_byte].decode("utf-8", "replace")
        text = _SEPARATORS.sub(".", _SPACES.sub("", raw)).strip(".")
        name = source[node.start_byte : node.end_byte].decode("utf-8", "replace")
        out.append(Base(child.qualified, child.line, name, text, kind, node.start_point[0] + 1))
    return out


def _imports(captures: dict[str, list[Node]], source: bytes) -> list[Import]:
    """The import one match of an `@import` pattern describes (several names: several matches)."""

    def text(capture: str) -> str:
        nodes = captures.get(capture)
        if not nodes:
            return ""
        raw = source[nodes[0].start_byte : nodes[0].end_byte].decode("utf-8", "replace")
        return _SPACES.sub("", raw).strip("'\"`<>")

    module = text("import.module")
    relative = text("import.relative")
    if relative:
        # A path relative to the importing file's folder (Ruby's require_relative, sh's source).
        module = relative if relative.startswith((".", "/")) else "./" + relative
    if not module and "import.name" not in captures:
        return []
    line = captures["import"][0].start_point[0] + 1
    return [Import(module, text("import.name"), text("import.alias"), line)]


def _resolve(found: dict[int, _Found], source: bytes, language: str) -> tuple[list[Definition], list[_Open]]:
    """Parents (by nesting, or explicit), method kinds, signatures and docs, in source order;
    and every definition or scope that can hold others, with its byte range."""
    # Outer before inner; a scope before a definition on the same node.
    ordered = sorted(found.values(), key=lambda d: (d.start, -d.end, not d.is_scope))
    stack: list[_Open] = []
    opened: list[_Open] = []
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
        if kind not in LEAF_KINDS:
            stack.append(_Open(start, end, qualified, "scope" if is_scope else kind, line))
            opened.append(stack[-1])
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
                doc=doc_of(node, source, language),
            )
        )
    out.sort(key=lambda d: d.line)
    return out, opened


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
