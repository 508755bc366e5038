"""The record every performance benchmark returns, and the one table `python -m bench` prints.

A benchmark module joins the suite by exposing ``async def run_all() -> list[Figure]``; each figure
is measured next to a reference tool (or an ideal) in the same run, so the ratio means something on
any machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    name: str
    """What was measured, with its size: "grep 10,000 files"."""
    value: str
    """The measurement, with its unit: "0.42 s"."""
    target: str
    """What it should be, in words: "≤ 2× git grep"."""
    reference: str
    """The reference measured in the same run, with its unit."""
    ratio: float | None
    """value / reference, when both are numbers."""
    ok: bool
    """Whether the target is met."""
    suite: str = ""
    """The module that measured it; filled in by the runner."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def render_table(figures: Iterable[Figure], *, with_suite: bool = False) -> str:
    """A Markdown table: readable in a terminal, pasteable into README."""
    head = ["benchmark", "measured", "target", "reference (same run)", "ratio", "meets target"]
    if with_suite:
        head.insert(0, "suite")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in figures:
        ratio = f"{f.ratio:.2f}×" if f.ratio is not None else "–"
        cells = [f.name, f.value, f.target, f.reference, ratio, "yes" if f.ok else "no"]
        if with_suite:
            cells.insert(0, f.suite)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_table(figures: Iterable[Figure], *, with_suite: bool = False) -> None:
    print(render_table(figures, with_suite=with_suite))
