"""Engine results → the JSON the commands return, with citations as LSP `Location`s.

Lines are 1-based in the engine and 0-based on the wire; a cited range covers whole lines, so it
ends at the end of its last line, measured in the position encoding the client and server agreed on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import from_fs_path

if TYPE_CHECKING:  # the engine is imported after `initialize` (see engine_side)
    from reporlm.engine.citations import Reference
    from reporlm.engine.explain import ExplainResult
    from reporlm.engine.plan import PlanItem, PlanResult
    from reporlm.engine.result import RunResult
    from reporlm.workspace import Repo


def text_units(text: str, encoding: str) -> int:
    """The length of `text` in the client's position units."""
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == types.PositionEncodingKind.Utf32:
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def column_of(text: str, units: int, encoding: str) -> int:
    """The character index in `text` of a client's column, counted in its position units."""
    if encoding == types.PositionEncodingKind.Utf32:
        return min(units, len(text))
    seen = 0
    for index, char in enumerate(text):
        if seen >= units:
            return index
        seen += text_units(char, encoding)
    return len(text)


class Locations:
    """Builds `Location`s in one repository for one position encoding."""

    def __init__(self, repo: Repo, encoding: str) -> None:
        self.repo = repo
        self.encoding = encoding

    def uri(self, path: str) -> str:
        return from_fs_path(str(self.repo.root / path)) or ""

    def lines(self, path: str, start: int | None, end: int | None) -> dict[str, Any]:
        """A Location of lines start..end (1-based, inclusive); a folder or unknown range is its start."""
        if start is None or end is None:
            zero = {"line": 0, "character": 0}
            return {"uri": self.uri(path), "range": {"start": zero, "end": zero}}
        try:
            last = self.repo.read(path, end, end).rstrip("\r\n")
        except Exception:  # the file changed since it was checked: point at the start of the line
            last = ""
        return {
            "uri": self.uri(path),
            "range": {
                "start": {"line": start - 1, "character": 0},
                "end": {"line": end - 1, "character": text_units(last, self.encoding)},
            },
        }

    def reference(self, ref: Reference) -> dict[str, Any]:
        assert ref.path is not None
        return self.lines(ref.path, ref.start, ref.end)


def answer_json(result: RunResult, where: Locations) -> dict[str, Any]:
    """The result of ask and explain: DESIGN's fields first, then the rest of the run's record."""
    record = result.to_json()
    return {
        "answer": result.answer,
        "citations": [where.lines(c.path, c.start, c.end) for c in result.citations if c.verified],
        "partial": result.partial,
        "usage": record["usage"],
        "trace_id": result.trace_id,
        "reason": result.reason,
        "cited": record["citations"],
        "iterations": result.iterations,
        "sub_calls": result.sub_calls,
        "seconds": record["seconds"],
        "trace_file": result.trace_file,
    }


def explain_json(result: ExplainResult, where: Locations) -> dict[str, Any]:
    """An explanation: an answer, plus the symbol explained and where it was asked about."""
    target = result.target
    return {
        **answer_json(result.run, where),
        "symbol": target.symbol,
        "location": where.lines(target.path, target.line, target.line),
    }


def plan_json(result: PlanResult, where: Locations) -> dict[str, Any]:
    plan = result.plan
    run = answer_json(result.run, where)
    del run["answer"]  # it is the plan's Markdown
    return {
        "plan": result.run.answer,
        "steps": [_item(step, where) for step in plan.steps],
        **run,
        "title": plan.title,
        "summary": plan.summary,
        "risks": [_item(risk, where) for risk in plan.risks],
    }


def _item(item: PlanItem, where: Locations) -> dict[str, Any]:
    return {
        "title": item.title,
        "detail": item.detail,
        "locations": [where.reference(r) for r in item.locations],
        "unverified": [{"kind": r.kind, "text": r.text, "reason": r.reason} for r in item.unverified],
    }
