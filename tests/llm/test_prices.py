"""The price table and the cost of a call's usage."""

from __future__ import annotations

import pytest

from reporlm.llm.base import Usage
from reporlm.llm.prices import cost, price_of


@pytest.mark.parametrize(
    ("model", "base"),
    [
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("anthropic/claude-haiku-4-5", "claude-haiku-4-5"),
    ],
)
def test_dated_ids_and_aliases_find_their_model(model: str, base: str) -> None:
    assert price_of(model) == price_of(base) is not None


def test_a_newer_minor_version_is_not_mistaken_for_its_family() -> None:
    assert price_of("claude-opus-4-5").input == 5.0  # type: ignore[union-attr]
    assert price_of("claude-opus-4").input == 15.0  # type: ignore[union-attr]
    assert price_of("claude-opus-4-5-20251101").input == 5.0  # type: ignore[union-attr]
    assert price_of("gpt-4.1-mini").input == 0.40  # type: ignore[union-attr]


def test_unknown_models_cost_none_and_local_ones_zero() -> None:
    usage = Usage(input_tokens=1000, output_tokens=100)
    assert cost("my-finetune", usage) is None
    assert cost("claude-sonnet-9-9", usage) is None
    assert cost("qwen2.5-coder-0.5b", usage) == 0.0


def test_cost_bills_cache_reads_and_writes_at_their_rates() -> None:
    usage = Usage(input_tokens=10_000, output_tokens=1_000, cache_read_tokens=8_000, cache_write_tokens=1_000)
    # Haiku 4.5: $1 in, $5 out, writes 1.25x, reads 0.1x.
    expected = (1_000 * 1.0 + 1_000 * 1.25 + 8_000 * 0.1 + 1_000 * 5.0) / 1_000_000
    assert cost("claude-haiku-4-5", usage) == pytest.approx(expected)
    assert cost("claude-haiku-4-5", Usage()) == 0.0
