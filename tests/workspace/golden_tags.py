"""Golden tags of the grammar fixtures: render them, and rewrite the goldens after a query change.

.venv/bin/python tests/workspace/golden_tags.py     # rewrites grammars/<lang>/sample.*.tags
"""

from __future__ import annotations

from pathlib import Path

from reporlm.workspace.grammars import Grammar, load_grammars
from reporlm.workspace.tags import parse_tags


def render(grammar: Grammar) -> str:
    """One line per definition (line-end kind qualified-name, and its doc), per referenced name
    and kind (its lines), per base in a class header and per imported module or name."""
    assert grammar.fixture is not None
    tags = parse_tags(grammar, grammar.fixture.read_bytes())
    lines = [
        f"def {d.line}-{d.end_line} {d.kind} {d.qualified}" + (f" | {d.doc}" if d.doc else "")
        for d in tags.definitions
    ]
    lines += [
        f"ref {name} {kind} {','.join(map(str, found))}"
        for (name, kind), found in sorted(tags.references.items())
    ]
    lines += [f"base {b.line} {b.child} <- {b.text} ({b.kind})" for b in tags.bases]
    lines += [
        f"import {i.line} {i.module}"
        + (f" : {i.name}" if i.name else "")
        + (f" as {i.alias}" if i.alias else "")
        for i in tags.imports
    ]
    return "\n".join(lines) + "\n"


def golden_path(grammar: Grammar) -> Path:
    assert grammar.fixture is not None
    return grammar.fixture.with_name(grammar.fixture.name + ".tags")


if __name__ == "__main__":
    for grammar in load_grammars().grammars.values():
        golden_path(grammar).write_text(render(grammar), encoding="utf-8")
        print("wrote", golden_path(grammar))
