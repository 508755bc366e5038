"""Budgets the host enforces: the prompt may mention them, but only this code stops a run.

A child RLM gets a `Budget` made of what remains of its parent's, and every token or call it spends
is also charged to the parent, so a tree of runs can never overspend the root's limits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from reporlm.llm.base import Usage


@dataclass(frozen=True)
class Limits:
    """What one run may spend. None means no limit for that resource."""

    max_iterations: int = 30
    """Root-model turns of this run (the paper's default is 30)."""
    max_sub_calls: int | None = 200
    """llm_query / llm_query_batched prompts and child RLMs, counted together, across the whole tree."""
    max_input_tokens: int | None = 3_000_000
    max_output_tokens: int | None = 200_000
    max_cost_usd: float | None = 5.0
    """Dollars across all calls; only priced models count toward it (the local model is free)."""
    max_seconds: float | None = 1800.0
    """Wall-clock for the whole run, children included."""
    max_depth: int = 1
    """How deep rlm_query may nest: 0 turns rlm_query into llm_query, 1 allows children that cannot nest."""
    child_max_iterations: int = 12
    """Root turns a child RLM gets (further capped by what remains of the parent)."""


class BudgetExhausted(Exception):
    """Raised when a resource runs out; the run turns it into a partial answer, never a crash."""

    def __init__(self, resource: str, detail: str) -> None:
        super().__init__(f"budget exhausted: {resource} ({detail})")
        self.resource = resource


@dataclass
class Spend:
    """What a run has used so far."""

    iterations: int = 0
    sub_calls: int = 0
    root_usage: Usage = field(default_factory=Usage)
    sub_usage: Usage = field(default_factory=Usage)

    @property
    def usage(self) -> Usage:
        return self.root_usage + self.sub_usage


class Budget:
    """Limits plus live accounting, chained to the parent run's budget when there is one."""

    def __init__(
        self,
        limits: Limits,
        *,
        depth: int = 0,
        parent: Budget | None = None,
        deadline: float | None = None,
    ) -> None:
        self.limits = limits
        self.depth = depth
        self.parent = parent
        self.spend = Spend()
        self._now = time.monotonic
        self.started = self._now()
        if deadline is None and limits.max_seconds is not None:
            deadline = self.started + limits.max_seconds
        self.deadline = deadline

    # -- accounting -------------------------------------------------------------------------

    def charge_iteration(self) -> None:
        self.spend.iterations += 1

    def charge_sub_call(self) -> None:
        """Count one sub-call here and in every ancestor, refusing it if any of them is out."""
        self.check_sub_call()
        budget: Budget | None = self
        while budget is not None:
            budget.spend.sub_calls += 1
            budget = budget.parent

    def add_usage(self, usage: Usage, *, root: bool) -> None:
        budget: Budget | None = self
        first = True
        while budget is not None:
            # Only this run's own root turns are "root" usage; everything seen by ancestors is sub-usage.
            if root and first:
                budget.spend.root_usage = budget.spend.root_usage + usage
            else:
                budget.spend.sub_usage = budget.spend.sub_usage + usage
            budget = budget.parent
            first = False

    # -- checks -----------------------------------------------------------------------------

    def check(self) -> None:
        """Raise BudgetExhausted when anything but iterations has run out, here or in an ancestor."""
        budget: Budget | None = self
        while budget is not None:
            budget._check_own()
            budget = budget.parent

    def check_sub_call(self) -> None:
        self.check()
        budget: Budget | None = self
        while budget is not None:
            cap = budget.limits.max_sub_calls
            if cap is not None and budget.spend.sub_calls >= cap:
                raise BudgetExhausted("sub-calls", f"{budget.spend.sub_calls}/{cap}")
            budget = budget.parent

    def sub_calls_left(self) -> int | None:
        """Sub-calls this run may still make (the least left here or in an ancestor); None: no cap."""
        left: int | None = None
        budget: Budget | None = self
        while budget is not None:
            cap = budget.limits.max_sub_calls
            if cap is not None:
                mine = max(0, cap - budget.spend.sub_calls)
                left = mine if left is None else min(left, mine)
            budget = budget.parent
        return left

    def iterations_left(self) -> int:
        return max(0, self.limits.max_iterations - self.spend.iterations)

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - self._now()

    def _check_own(self) -> None:
        lim, usage = self.limits, self.spend.usage
        if self.deadline is not None and self._now() >= self.deadline:
            raise BudgetExhausted("wall-clock", f"{lim.max_seconds:g} s")
        if lim.max_input_tokens is not None and usage.input_tokens >= lim.max_input_tokens:
            raise BudgetExhausted("input tokens", f"{usage.input_tokens}/{lim.max_input_tokens}")
        if lim.max_output_tokens is not None and usage.output_tokens >= lim.max_output_tokens:
            raise BudgetExhausted("output tokens", f"{usage.output_tokens}/{lim.max_output_tokens}")
        if lim.max_cost_usd is not None and usage.cost_usd is not None and usage.cost_usd >= lim.max_cost_usd:
            raise BudgetExhausted("dollars", f"${usage.cost_usd:.4f}/${lim.max_cost_usd:.2f}")

    # -- children ---------------------------------------------------------------------------

    def child(self) -> Budget:
        """A budget for a child RLM: what remains of this one, one level deeper, charged to both."""
        lim, usage = self.limits, self.spend.usage

        def left(cap: int | float | None, used: int | float | None) -> int | float | None:
            return None if cap is None else max(0, cap - (used or 0))

        child_limits = replace(
            lim,
            max_iterations=min(lim.child_max_iterations, max(1, self.iterations_left())),
            max_sub_calls=left(lim.max_sub_calls, self.spend.sub_calls),
            max_input_tokens=left(lim.max_input_tokens, usage.input_tokens),
            max_output_tokens=left(lim.max_output_tokens, usage.output_tokens),
            max_cost_usd=left(lim.max_cost_usd, usage.cost_usd),
        )
        return Budget(child_limits, depth=self.depth + 1, parent=self, deadline=self.deadline)

    @property
    def can_recurse(self) -> bool:
        return self.depth < self.limits.max_depth
