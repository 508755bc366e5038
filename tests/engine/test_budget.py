import pytest

from reporlm.engine.budget import Budget, BudgetExhausted, Limits
from reporlm.llm.base import Usage


def test_sub_calls_are_capped() -> None:
    budget = Budget(Limits(max_sub_calls=2))
    budget.charge_sub_call()
    budget.charge_sub_call()
    with pytest.raises(BudgetExhausted, match="sub-calls"):
        budget.charge_sub_call()


def test_tokens_and_dollars() -> None:
    budget = Budget(Limits(max_input_tokens=100, max_output_tokens=None, max_cost_usd=1.0))
    budget.add_usage(Usage(input_tokens=50, output_tokens=10, cost_usd=0.5), root=True)
    budget.check()
    budget.add_usage(Usage(input_tokens=60, cost_usd=0.1), root=False)
    with pytest.raises(BudgetExhausted, match="input tokens"):
        budget.check()
    dollars = Budget(Limits(max_cost_usd=0.2))
    dollars.add_usage(Usage(cost_usd=0.25), root=True)
    with pytest.raises(BudgetExhausted, match="dollars"):
        dollars.check()


def test_unknown_cost_does_not_count_as_money() -> None:
    budget = Budget(Limits(max_cost_usd=0.01))
    budget.add_usage(Usage(input_tokens=10, cost_usd=None), root=True)
    budget.check()


def test_wall_clock() -> None:
    budget = Budget(Limits(max_seconds=0.0))
    with pytest.raises(BudgetExhausted, match="wall-clock"):
        budget.check()


def test_child_inherits_what_remains_and_charges_the_parent() -> None:
    parent = Budget(
        Limits(
            max_iterations=30,
            max_sub_calls=10,
            max_input_tokens=1000,
            max_cost_usd=1.0,
            child_max_iterations=5,
            max_depth=1,
        )
    )
    parent.charge_sub_call()
    parent.add_usage(Usage(input_tokens=400, cost_usd=0.25), root=True)
    child = parent.child()
    assert child.depth == 1 and not child.can_recurse and parent.can_recurse
    assert child.limits.max_sub_calls == 9
    assert child.limits.max_input_tokens == 600
    assert child.limits.max_cost_usd == pytest.approx(0.75)
    assert child.limits.max_iterations == 5
    assert child.deadline == parent.deadline
    child.add_usage(Usage(input_tokens=100, output_tokens=7), root=True)
    child.charge_sub_call()
    assert parent.spend.sub_calls == 2
    assert parent.spend.sub_usage.input_tokens == 100
    assert parent.spend.root_usage.input_tokens == 400
    assert child.spend.root_usage.output_tokens == 7


def test_exhausted_parent_stops_the_child() -> None:
    parent = Budget(Limits(max_output_tokens=10))
    child = parent.child()
    child.add_usage(Usage(output_tokens=10), root=True)
    with pytest.raises(BudgetExhausted, match="output tokens"):
        child.check()
    with pytest.raises(BudgetExhausted):
        parent.check()


def test_child_iterations_capped_by_parent_remainder() -> None:
    parent = Budget(Limits(max_iterations=3, child_max_iterations=12))
    parent.charge_iteration()
    assert parent.child().limits.max_iterations == 2
