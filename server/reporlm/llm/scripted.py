"""A client that replays canned replies, for tests and benchmarks of the machinery around models."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from reporlm.llm.base import Completion, Message, Usage

Responder = Callable[[Sequence[Message]], str]
Reply = str | BaseException | Responder


class ScriptExhausted(RuntimeError):
    """The test asked the model more often than its script foresaw."""


@dataclass(frozen=True)
class ScriptedCall:
    messages: tuple[Message, ...]
    model: str
    max_tokens: int
    temperature: float


def _tokens(text: str) -> int:
    # About four characters per token is close enough to test budgets with.
    return (len(text) + 3) // 4


class ScriptedClient:
    """Replays ``replies`` in order: a str is the answer, an exception is raised, a callable gets the
    messages and returns the answer. ``responder`` answers once the list is used up (or instead of
    it). Every call is recorded in ``calls``; ``latency`` seconds pass per call, without blocking the
    event loop, so concurrent sub-calls overlap as real ones would.
    """

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        provider: str = "scripted",
        latency: float = 0.0,
        responder: Responder | None = None,
    ) -> None:
        self.provider = provider
        self.latency = latency
        self.responder = responder
        self.calls: list[ScriptedCall] = []
        self.closed = False
        self._replies: deque[Reply] = deque(replies)

    @property
    def remaining(self) -> int:
        """Replies in the list not yet used."""
        return len(self._replies)

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        max_tokens: int,
        temperature: float = 0.0,
    ) -> Completion:
        self.calls.append(ScriptedCall(tuple(messages), model, max_tokens, temperature))
        # Take the reply before sleeping so concurrent callers get replies in the order they called.
        reply = self._next_reply(messages)
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if isinstance(reply, BaseException):
            raise reply
        text = reply if isinstance(reply, str) else reply(messages)
        usage = Usage(
            input_tokens=sum(_tokens(m.content) for m in messages),
            output_tokens=_tokens(text),
            cost_usd=0.0,
        )
        return Completion(text=text, usage=usage, model=model, stop_reason="end_turn")

    async def aclose(self) -> None:
        self.closed = True

    def _next_reply(self, messages: Sequence[Message]) -> Reply:
        if self._replies:
            return self._replies.popleft()
        if self.responder is not None:
            return self.responder
        last = messages[-1].content if messages else ""
        raise ScriptExhausted(
            f"scripted client has no reply left for call {len(self.calls)}; "
            f"last message began: {last[:200]!r}"
        )
