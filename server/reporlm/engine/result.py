"""What a run returns to its caller (CLI, language server, benchmark harness, a parent RLM)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from reporlm.engine.citations import Citation
from reporlm.llm.base import Usage


@dataclass
class RunResult:
    answer: str
    partial: bool
    reason: str
    """Why the run ended: "final", or what ran out ("iterations", "wall-clock", "dollars", ...)."""
    citations: list[Citation] = field(default_factory=list)
    iterations: int = 0
    sub_calls: int = 0
    root_usage: Usage = field(default_factory=Usage)
    sub_usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    trace_id: str = ""
    trace_file: str | None = None

    @property
    def usage(self) -> Usage:
        return self.root_usage + self.sub_usage

    @property
    def unverified(self) -> list[Citation]:
        return [c for c in self.citations if not c.verified]

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "partial": self.partial,
            "reason": self.reason,
            "citations": [asdict(c) for c in self.citations],
            "iterations": self.iterations,
            "sub_calls": self.sub_calls,
            "usage": {
                "root": asdict(self.root_usage),
                "sub": asdict(self.sub_usage),
                "total": asdict(self.usage),
            },
            "seconds": round(self.seconds, 3),
            "trace_id": self.trace_id,
            "trace_file": self.trace_file,
        }
