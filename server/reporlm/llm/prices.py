"""Prices of hosted models, and the cost of one call's usage.

USD per million tokens. Anthropic bills cache writes (5-minute TTL) at 1.25x and cache reads at 0.1x
the base input price; OpenAI bills cached input at a discount and writes the cache for free.
Update this table when a provider changes its prices; an unknown model costs ``None`` (unknown),
never 0, so budgets in dollars can tell "free" from "not priced".
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from reporlm.llm.base import Usage


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float
    cache_read: float


def _anthropic(input_: float, output: float) -> Price:
    return Price(input_, output, cache_write=input_ * 1.25, cache_read=input_ * 0.1)


def _openai(input_: float, output: float, cached: float) -> Price:
    return Price(input_, output, cache_write=input_, cache_read=cached)


_FREE = Price(0.0, 0.0, 0.0, 0.0)

PRICES: dict[str, Price] = {
    # Anthropic
    "claude-opus-5": _anthropic(5.0, 25.0),
    "claude-opus-4-8": _anthropic(5.0, 25.0),
    "claude-opus-4-7": _anthropic(5.0, 25.0),
    "claude-opus-4-6": _anthropic(5.0, 25.0),
    "claude-opus-4-5": _anthropic(5.0, 25.0),
    "claude-opus-4-1": _anthropic(15.0, 75.0),
    "claude-opus-4-0": _anthropic(15.0, 75.0),
    "claude-opus-4": _anthropic(15.0, 75.0),
    "claude-sonnet-5-5": Price(2.0, 10.0, cache_write=2.50, cache_read=0.20),
    "claude-sonnet-5": Price(2.0, 10.0, cache_write=2.50, cache_read=0.20),
    "claude-sonnet-4-6": _anthropic(3.0, 15.0),
    "claude-sonnet-4-5": _anthropic(3.0, 15.0),
    "claude-sonnet-4-0": _anthropic(3.0, 15.0),
    "claude-sonnet-4": _anthropic(3.0, 15.0),
    "claude-3-7-sonnet": _anthropic(3.0, 15.0),
    "claude-haiku-4-5": _anthropic(1.0, 5.0),
    "claude-3-5-haiku": _anthropic(0.8, 4.0),
    "claude-3-haiku": _anthropic(0.25, 1.25),
    # OpenAI
    "gpt-5": _openai(1.25, 10.0, 0.125),
    "gpt-5-mini": _openai(0.25, 2.0, 0.025),
    "gpt-5-nano": _openai(0.05, 0.40, 0.005),
    "gpt-4.1": _openai(2.0, 8.0, 0.50),
    "gpt-4.1-mini": _openai(0.40, 1.60, 0.10),
    "gpt-4.1-nano": _openai(0.10, 0.40, 0.025),
    "gpt-4o": _openai(2.50, 10.0, 1.25),
    "gpt-4o-mini": _openai(0.15, 0.60, 0.075),
    # The embedded models run on the user's machine.
    "qwen2.5-coder-0.5b": _FREE,
    "qwen2.5-coder-1.5b": _FREE,
}

# A dated snapshot or alias of a listed id: claude-sonnet-4-5-20250929, gpt-4o-2024-08-06,
# claude-3-5-haiku-latest. Stripping only these keeps "claude-opus-4" from matching "claude-opus-4-5".
_SNAPSHOT_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


def price_of(model: str) -> Price | None:
    """The price of ``model`` by exact id, or by the id without its date/alias suffix."""
    name = model.strip().lower()
    if "/" in name:  # "anthropic/claude-…" as routers and configs often spell it
        name = name.rsplit("/", 1)[1]
    if name in PRICES:
        return PRICES[name]
    base = _SNAPSHOT_SUFFIX.sub("", name)
    return PRICES.get(base)


def is_loopback(base_url: str) -> bool:
    """Whether an endpoint is on this machine: a model served there costs nothing."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def cost(model: str, usage: Usage) -> float | None:
    """USD for ``usage`` on ``model``; None when the model is not in the table.

    ``usage.input_tokens`` includes the cache reads and writes, which are billed at their own rates.
    """
    price = price_of(model)
    if price is None:
        return None
    plain_input = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
    total = (
        plain_input * price.input
        + usage.cache_write_tokens * price.cache_write
        + usage.cache_read_tokens * price.cache_read
        + usage.output_tokens * price.output
    )
    return total / 1_000_000
