"""Claude through the official SDK, with prompt caching on the stable prefix of the conversation."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import anthropic

from reporlm.llm._errors import redact, retryable_status, short
from reporlm.llm.base import Completion, Message, ProviderError, Usage
from reporlm.llm.prices import cost

log = logging.getLogger(__name__)

_EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
_NO_CREDENTIALS = "set ANTHROPIC_API_KEY or pass an API key"


def build_request(messages: Sequence[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split our messages into the API's ``system`` blocks and ``messages``, with cache breakpoints.

    The engine only ever appends to a conversation, so everything up to the last block of this call
    is the prefix of the next one: marking the system block and the last block lets the next call
    read the whole history from the cache and pay only for what was appended.
    """
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        # The API rejects empty text blocks; an empty REPL output is still a turn worth keeping.
        block: dict[str, Any] = {"type": "text", "text": message.content or "(empty)"}
        if message.role == "system":
            system.append(block)
        else:
            turns.append({"role": message.role, "content": [block]})
    if system:
        system[-1]["cache_control"] = dict(_EPHEMERAL)
    if turns:
        turns[-1]["content"][-1]["cache_control"] = dict(_EPHEMERAL)
    return system, turns


class AnthropicClient:
    """``ModelClient`` for the Anthropic Messages API.

    ``api_key``/``base_url`` default to ``ANTHROPIC_API_KEY``/``ANTHROPIC_BASE_URL`` (the SDK reads
    them). Retries of 408/409/429/5xx/529 and connection errors are the SDK's, with its back-off
    and ``retry-after`` handling; what still fails becomes a ``ProviderError``.
    """

    provider = "anthropic"

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        max_retries: int = 4,
        timeout: float = 600.0,
    ) -> None:
        try:
            self._client = anthropic.AsyncAnthropic(
                api_key=api_key,
                base_url=base_url,
                max_retries=max_retries,
                # A short connect timeout: an unreachable host should fail in seconds, not minutes.
                timeout=anthropic.Timeout(timeout, connect=min(10.0, timeout)),
            )
        except anthropic.AnthropicError as exc:  # e.g. a named credentials profile that is missing
            raise ProviderError(f"anthropic: {redact(str(exc), (api_key,))}; {_NO_CREDENTIALS}") from None

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        max_tokens: int,
        temperature: float = 0.0,
    ) -> Completion:
        # The Messages API of this SDK generation takes no sampling temperature (models choose it);
        # the argument stays in the protocol for the other providers.
        del temperature
        system, turns = build_request(messages)
        kwargs: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": turns}
        if system:
            kwargs["system"] = system
        started = time.perf_counter()
        try:
            response = await self._client.messages.create(**kwargs)
        except anthropic.APIStatusError as exc:
            raise self._status_error(exc) from None
        except anthropic.APITimeoutError:
            raise ProviderError("anthropic: request timed out", retryable=True) from None
        except anthropic.APIConnectionError as exc:
            raise ProviderError(
                f"anthropic: connection failed: {self._redact(str(exc))}", retryable=True
            ) from None
        except anthropic.AnthropicError as exc:
            raise ProviderError(f"anthropic: {self._redact(str(exc))}") from None
        except TypeError as exc:
            # The SDK signals "no credentials at all" with a TypeError when the request is built.
            if "authentication" not in str(exc):
                raise
            raise ProviderError(f"anthropic: no credentials; {_NO_CREDENTIALS}") from None

        text = "".join(block.text for block in response.content if block.type == "text")
        usage = self._usage(model, response.usage)
        log.debug(
            "anthropic %s: %d in (%d cached), %d out, %.1fs",
            model,
            usage.input_tokens,
            usage.cache_read_tokens,
            usage.output_tokens,
            time.perf_counter() - started,
        )
        return Completion(
            text=text, usage=usage, model=response.model or model, stop_reason=response.stop_reason
        )

    async def aclose(self) -> None:
        await self._client.close()

    @staticmethod
    def _usage(model: str, raw: Any) -> Usage:
        read = raw.cache_read_input_tokens or 0
        write = raw.cache_creation_input_tokens or 0
        # The API counts only the uncached tail in input_tokens; ours counts every input token.
        usage = Usage(
            input_tokens=(raw.input_tokens or 0) + read + write,
            output_tokens=raw.output_tokens or 0,
            cache_read_tokens=read,
            cache_write_tokens=write,
        )
        usage.cost_usd = cost(model, usage)
        return usage

    def _redact(self, text: str) -> str:
        return redact(text, (self._client.api_key, self._client.auth_token))

    def _status_error(self, exc: anthropic.APIStatusError) -> ProviderError:
        status = exc.status_code
        kind = exc.type or "error"
        detail = exc.api_message or exc.message
        message = f"anthropic: HTTP {status} {kind}: {short(self._redact(str(detail)))}"
        if exc.request_id:
            message += f" (request id {exc.request_id})"
        return ProviderError(message, status=status, retryable=retryable_status(status))
