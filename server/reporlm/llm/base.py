"""The one small protocol every model client speaks, and the records it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    cache: bool = field(default=False, compare=False)
    """The conversation up to the end of this message is a stable prefix that other calls share
    (the same system prompt and example for every question, the same repository context for every
    question about one revision): a client may keep it in a prompt cache (the embedded model saves
    its state there). A hint: it never changes an answer."""


@dataclass
class Usage:
    """Tokens and money one call (or a sum of calls) consumed."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    """Input tokens served from the provider's prompt cache (already counted in input_tokens)."""
    cache_write_tokens: int = 0
    """Input tokens written to the provider's prompt cache (already counted in input_tokens)."""
    cost_usd: float | None = 0.0
    """None when the model has no entry in the price table: the cost is unknown, not zero."""

    def __add__(self, other: Usage) -> Usage:
        cost = None if self.cost_usd is None or other.cost_usd is None else self.cost_usd + other.cost_usd
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            cost,
        )


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    stop_reason: str | None = None


class ProviderError(Exception):
    """A model call failed for good (after the SDK's own retries): auth, bad request, overload, network."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


@runtime_checkable
class ModelClient(Protocol):
    """An async chat-completion client. Implementations must be safe to call concurrently."""

    provider: str

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        max_tokens: int,
        temperature: float = 0.0,
    ) -> Completion:
        """Answer the conversation. The first message may have role "system"."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads or model memory."""
        ...
