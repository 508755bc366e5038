"""Everything a run can be tuned by, apart from which models answer (see `engine.session.Models`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from reporlm.engine.budget import Limits
from reporlm.engine.trace_retention import TraceRetention
from reporlm.sandbox import SandboxLimits


@dataclass(frozen=True)
class EngineOptions:
    limits: Limits = field(default_factory=Limits)
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)
    """Per-block limits of the worker that runs model code (wall, CPU, memory, output)."""
    output_chars: int = 6000
    """REPL output longer than this reaches the model cut in the middle (head and tail kept)."""
    root_max_tokens: int = 2048
    """Longest reply of the root model per turn."""
    sub_max_tokens: int = 1024
    """Longest reply of an llm_query call."""
    sub_prompt_chars: int = 120_000
    """An llm_query prompt longer than this is cut (head and tail kept) before it is sent."""
    concurrency: int = 8
    """How many sub-calls run at once (llm_query_batched, children); one limit for the whole session."""
    context_tokens: int | None = None
    """The root model's context window; when set, old REPL outputs are elided to stay within it."""
    require_evidence: bool = True
    """Turn down, once per run, a FINAL given before the code has looked at anything."""
    max_nudges_in_a_row: int = 4
    """After this many corrected turns in a row the model is stuck: it is asked to answer now."""
    retry_temperature: float = 0.7
    """Sampling temperature of the turn after a nudge (otherwise 0: greedy)."""
    prompt_version: str = "v2"
    map_tokens: int = 1200
    """Budget of the ranked repository map in the repository context (prompt v2) or question (v1)."""
    folders_only: bool = False
    """The repository context's tree shows folders alone (a short first prompt for small models)."""
    evidence_tokens: int = 600
    """Budget of the evidence block, what the index knows about the question's names (prompt v2)."""
    trace_retention: TraceRetention | None = field(default_factory=TraceRetention)
    """Applied to a run's trace folder when the run starts its trace; None keeps every trace."""

    def doc_values(self) -> dict[str, object]:
        """The limits the REPL functions' docstrings quote (${name} placeholders)."""
        return {"sub_prompt_chars": f"{self.sub_prompt_chars:,}"}
