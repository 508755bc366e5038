"""What a definition says about itself: the first paragraph of a Python docstring, or of the
comment right above a definition in other languages (`///`, `/** */`, `#`), for `repo.search`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node

DOC_CHARS = 300
"""Longest doc kept: the first paragraph says what a definition does; the rest is detail."""
MAX_COMMENT_LINES = 40

# Nodes that wrap a definition without being it: the comment sits above the wrapper.
_WRAPPERS = frozenset({
    "decorated_definition", "export_statement", "lexical_declaration", "variable_declaration",
    "type_declaration", "const_declaration", "var_declaration", "template_declaration",
    "expression_statement", "ambient_declaration",
})  # fmt: skip
# Between a comment and its definition: Rust attributes, Java/C# annotations, Python decorators.
_BETWEEN = frozenset({"attribute_item", "attribute_list", "annotation", "marker_annotation", "decorator"})
_PYTHON_DOCUMENTED = frozenset({"function_definition", "class_definition"})
_COMMENT_MARKS = re.compile(r"^\s*(?:/\*+!?|\*+/|\*(?!/)|//[/!]?|#+|--|;+)\s?")
_COMMENT_END = re.compile(r"\s*\*+/\s*$")
_XML_DOC_TAGS = re.compile(r"</?(?:summary|remarks|para)>")  # C#'s `/// <summary>`
_SPACES = re.compile(r"\s+")
_TAG_LINE = re.compile(r"^\s*[@:]\w")  # JSDoc/Javadoc `@param`, reST `:param`: the summary has ended


def doc_of(node: Node, source: bytes, language: str) -> str:
    """The first paragraph of what documents `node`, whitespace collapsed ("" if nothing does)."""
    if language == "python" and node.type in _PYTHON_DOCUMENTED:
        return _python_docstring(node, source)
    return _leading_comment(node, source)


def _python_docstring(node: Node, source: bytes) -> str:
    # named_child(0), not named_children[0]: the latter builds a node for every statement.
    body = node.child_by_field_name("body")
    first = body.named_child(0) if body is not None else None
    if first is None or first.type != "expression_statement":
        return ""
    string = first.named_child(0)
    if string is None or string.type != "string" or string.named_child_count < 2:
        return ""
    # string_start, the contents (string_content, escapes, interpolations), string_end
    start = string.named_child(0).end_byte  # type: ignore[union-attr]
    end = string.named_child(string.named_child_count - 1).start_byte  # type: ignore[union-attr]
    text = source[start:end].decode("utf-8", "replace")
    return _first_paragraph(text.splitlines())


def _leading_comment(node: Node, source: bytes) -> str:
    anchor = node
    while anchor.parent is not None and anchor.parent.type in _WRAPPERS:
        anchor = anchor.parent
    comments: list[Node] = []
    below = anchor
    current = anchor.prev_named_sibling
    while current is not None and len(comments) < MAX_COMMENT_LINES:
        if current.type in _BETWEEN:
            below, current = current, current.prev_named_sibling
            continue
        # Only a comment that ends on the line right above (or on the same line as) what follows.
        if "comment" not in current.type or current.end_point[0] < below.start_point[0] - 1:
            break
        comments.append(current)
        below, current = current, current.prev_named_sibling
    if not comments:
        return ""
    comments.reverse()
    text = source[comments[0].start_byte : comments[-1].end_byte].decode("utf-8", "replace")
    return _first_paragraph(
        _XML_DOC_TAGS.sub("", _COMMENT_MARKS.sub("", _COMMENT_END.sub("", line)))
        for line in text.splitlines()
    )


def _first_paragraph(lines: Iterable[str]) -> str:
    kept: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped:
            if kept:
                break
            continue
        if _TAG_LINE.match(stripped):
            break
        kept.append(stripped)
    text = _SPACES.sub(" ", " ".join(kept)).strip()
    if len(text) > DOC_CHARS:
        text = text[: DOC_CHARS - 1].rstrip() + "…"
    return text
