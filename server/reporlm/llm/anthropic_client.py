"""Claude through the official SDK, with prompt caching on the stable prefix of the conversation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anthropic

from reporlm.llm._errors import field, malformed, redact, retryable_status, short, token_count
from reporlm.llm.base import Message, ProviderError, Usage
from reporlm.llm.hosted import HostedClient
from reporlm.llm.prices import cost

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


def _text(response: Any) -> str:
    """The text blocks of a Messages reply, checked: the SDK does not validate what it parses."""
    content = field(response, "content")
    if not isinstance(content, list):
        if isinstance(response, str):  # not JSON at all (the SDK hands such a body over as text)
            raise malformed("anthropic", f"a {short(response, 80)!r} body instead of a message")
        raise malformed("anthropic", "no content list in the message")
    texts = []
    for block in content:
        if field(block, "type") != "text":
            continue  # tool use, thinking: not ours to read
        text = field(block, "text")
        if not isinstance(text, str):
            raise malformed("anthropic", "a text block without text")
        texts.append(text)
    return "".join(texts)


class AnthropicClient(HostedClient):
    """``ModelClient`` for the Anthropic Messages API.

    ``api_key``/``base_url`` default to ``ANTHROPIC_API_KEY``/``ANTHROPIC_BASE_URL`` (the SDK reads
    them). Retries of 408/409/429/5xx/529 and connection errors are the SDK's, with its back-off
    and ``retry-after`` handling; what still fails becomes a ``ProviderError``.
    """

    provider = "anthropic"
    _sdk = anthropic
    _sdk_error = anthropic.AnthropicError

    def _open(
        self, api_key: str | None, base_url: str | None, max_retries: int, timeout: anthropic.Timeout
    ) -> anthropic.AsyncAnthropic:
        try:
            return anthropic.AsyncAnthropic(
                api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout
            )
        except anthropic.AnthropicError as exc:  # e.g. a named credentials profile that is missing
            raise ProviderError(f"anthropic: {redact(str(exc), (api_key,))}; {_NO_CREDENTIALS}") from None

    def request_params(
        self, messages: Sequence[Message], model: str, max_tokens: int, temperature: float
    ) -> dict[str, Any]:
        # The Messages API of this SDK generation takes no sampling temperature (models choose it);
        # the argument stays in the protocol for the other providers.
        del temperature
        system, turns = build_request(messages)
        params: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": turns}
        if system:
            params["system"] = system
        return params

    async def _send(self, params: dict[str, Any]) -> Any:
        try:
            return await self._client.messages.create(**params)
        except TypeError as exc:
            # The SDK signals "no credentials at all" with a TypeError when the request is built.
            if "authentication" not in str(exc):
                raise
            raise ProviderError(f"anthropic: no credentials; {_NO_CREDENTIALS}") from None

    def _read(self, response: Any) -> tuple[str, Any]:
        return _text(response), field(response, "stop_reason")

    def _usage(self, model: str, raw: Any) -> Usage:
        def count(name: str) -> int:
            return token_count("anthropic", raw, name)

        read, write = count("cache_read_input_tokens"), count("cache_creation_input_tokens")
        # The API counts only the uncached tail in input_tokens; ours counts every input token.
        usage = Usage(
            input_tokens=count("input_tokens") + read + write,
            output_tokens=count("output_tokens"),
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
