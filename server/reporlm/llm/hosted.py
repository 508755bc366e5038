"""What the clients of hosted APIs (anthropic, openai) share: one call, its failures, its record.

Both SDKs are generated from one template, so they raise the same exception classes under a root
of their own. A client says only what differs: the request, how it is sent, how the reply is read,
its usage and its wording of an HTTP error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from reporlm.llm._errors import UNREADABLE, field, text_or_none, unreadable
from reporlm.llm.base import Completion, Message, ProviderError, Usage


class HostedClient:
    """The ``ModelClient`` skeleton of a hosted API; subclasses fill in the hooks below."""

    provider: str
    _sdk: ModuleType
    """The SDK module, whose ``APIStatusError``, ``APITimeoutError`` and ``APIConnectionError`` we map."""
    _sdk_error: type[Exception]
    """The root of the SDK's own exceptions (the one class name the two SDKs do not share)."""
    _client: Any

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        max_retries: int = 4,
        timeout: float = 600.0,
    ) -> None:
        # A short connect timeout: an unreachable host should fail in seconds, not minutes.
        self._client = self._open(
            api_key, base_url, max_retries, self._sdk.Timeout(timeout, connect=min(10.0, timeout))
        )

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        max_tokens: int,
        temperature: float = 0.0,
    ) -> Completion:
        params = self.request_params(messages, model, max_tokens, temperature)
        started = time.perf_counter()
        try:
            response = await self._send(params)
        except self._sdk.APIStatusError as exc:
            raise self._status_error(exc) from None
        except self._sdk.APITimeoutError:
            raise ProviderError(f"{self.provider}: request timed out", retryable=True) from None
        except self._sdk.APIConnectionError as exc:
            raise ProviderError(
                f"{self.provider}: {self._connection()} failed: {self._redact(str(exc))}", retryable=True
            ) from None
        except self._sdk_error as exc:
            raise ProviderError(f"{self.provider}: {self._redact(str(exc))}") from None
        except UNREADABLE as exc:
            raise unreadable(self.provider, exc) from None

        text, stop_reason = self._read(response)
        usage = self._usage(model, field(response, "usage"))
        # Under the client module's own logger, so per-provider logging settings apply.
        logging.getLogger(type(self).__module__).debug(
            "%s %s: %d in (%d cached), %d out, %.1fs",
            self.provider,
            model,
            usage.input_tokens,
            usage.cache_read_tokens,
            usage.output_tokens,
            time.perf_counter() - started,
        )
        return Completion(
            text=text,
            usage=usage,
            model=text_or_none(field(response, "model")) or model,
            stop_reason=text_or_none(stop_reason),
        )

    async def aclose(self) -> None:
        await self._client.close()

    def _open(self, api_key: str | None, base_url: str | None, max_retries: int, timeout: Any) -> Any:
        """The SDK's client; ``timeout`` is the SDK's own ``Timeout``."""
        raise NotImplementedError

    def request_params(
        self, messages: Sequence[Message], model: str, max_tokens: int, temperature: float
    ) -> dict[str, Any]:
        """The SDK call's arguments for this conversation and model."""
        raise NotImplementedError

    async def _send(self, params: dict[str, Any]) -> Any:
        """The SDK call; its exceptions are mapped by ``complete``."""
        raise NotImplementedError

    def _read(self, response: Any) -> tuple[str, Any]:
        """The reply's text and its raw stop reason, checked (the SDKs do not validate replies)."""
        raise NotImplementedError

    def _usage(self, model: str, raw: Any) -> Usage:
        raise NotImplementedError

    def _status_error(self, exc: Any) -> ProviderError:
        """A reply with an error status, in the provider's own words."""
        raise NotImplementedError

    def _redact(self, text: str) -> str:
        """``text`` without the client's credentials."""
        raise NotImplementedError

    def _connection(self) -> str:
        """What failed to connect, for the message of a connection error."""
        return "connection"
