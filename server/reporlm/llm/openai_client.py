"""Any OpenAI-compatible chat-completions endpoint: OpenAI itself, vLLM, Ollama, llama.cpp server."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import openai

from reporlm.llm._errors import field, malformed, redact, retryable_status, short, token_count
from reporlm.llm.base import Message, ProviderError, Usage
from reporlm.llm.hosted import HostedClient
from reporlm.llm.prices import cost, is_loopback

# Local servers ignore the key, but the SDK refuses to start without one.
_PLACEHOLDER_KEY = "not-needed"
# OpenAI's reasoning models reject a custom temperature and the legacy max_tokens field.
_REASONING_PREFIXES = ("gpt-5", "o1", "o3", "o4")


def _message_text(message: Any) -> str:
    """The text of a chat-completion message, checked: the SDK does not validate what it parses.

    Some compatible servers send the content as a list of text parts; a refusal has no content.
    """
    if message is None or isinstance(message, str | int | float | list):
        raise malformed("openai", "the first choice has no message")
    content = field(message, "content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(field(p, "text"), str) for p in content):
        return "".join(field(p, "text") for p in content)
    raise malformed("openai", f"the message content is {short(repr(content), 60)}, not text")


class OpenAIClient(HostedClient):
    """``ModelClient`` for chat completions on an OpenAI-compatible server.

    ``api_key``/``base_url`` default to ``OPENAI_API_KEY``/``OPENAI_BASE_URL``. A key is optional
    for local endpoints. A model missing from the price table costs 0 on a loopback endpoint (the
    user's own hardware) and ``None`` (unknown) elsewhere.
    """

    provider = "openai"
    _sdk = openai
    _sdk_error = openai.OpenAIError

    def _open(
        self, api_key: str | None, base_url: str | None, max_retries: int, timeout: openai.Timeout
    ) -> openai.AsyncOpenAI:
        api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        client = openai.AsyncOpenAI(
            api_key=api_key or _PLACEHOLDER_KEY, base_url=base_url, max_retries=max_retries, timeout=timeout
        )
        self._api_key = api_key
        endpoint = str(client.base_url)
        self._official = urlsplit(endpoint).hostname == "api.openai.com"
        self._local = is_loopback(endpoint)
        if self._official and not api_key:
            raise ProviderError("openai: no API key; set OPENAI_API_KEY, or base_url for a local server")
        return client

    def request_params(
        self, messages: Sequence[Message], model: str, max_tokens: int, temperature: float
    ) -> dict[str, Any]:
        """The chat-completions arguments for this endpoint and model."""
        params: dict[str, Any] = {
            "model": model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        if self._official:
            params["max_completion_tokens"] = max_tokens
        else:
            params["max_tokens"] = max_tokens  # the field every compatible server understands
        if not (self._official and model.startswith(_REASONING_PREFIXES)):
            params["temperature"] = temperature
        return params

    async def _send(self, params: dict[str, Any]) -> Any:
        return await self._client.chat.completions.create(**params)

    def _read(self, response: Any) -> tuple[str, Any]:
        choices = field(response, "choices")
        if isinstance(response, str):  # not JSON at all (the SDK hands such a body over as text)
            raise malformed("openai", f"a {short(response, 80)!r} body instead of a chat completion")
        if not choices:
            raise ProviderError("openai: the server returned no choices", retryable=True)
        if not isinstance(choices, list):
            raise malformed("openai", "choices is not a list")
        choice = choices[0]
        return _message_text(field(choice, "message")), field(choice, "finish_reason")

    def _usage(self, model: str, raw: Any) -> Usage:
        if raw is None:  # some compatible servers omit usage entirely
            usage = Usage()
        else:
            usage = Usage(
                input_tokens=token_count("openai", raw, "prompt_tokens"),
                output_tokens=token_count("openai", raw, "completion_tokens"),
                cache_read_tokens=token_count("openai", field(raw, "prompt_tokens_details"), "cached_tokens"),
            )
        price = cost(model, usage)
        usage.cost_usd = 0.0 if price is None and self._local else price
        return usage

    def _redact(self, text: str) -> str:
        return redact(text, (self._api_key,))

    def _connection(self) -> str:
        return f"connection to {self._client.base_url}"

    def _status_error(self, exc: openai.APIStatusError) -> ProviderError:
        status = exc.status_code
        body = exc.body
        detail = body.get("message") if isinstance(body, dict) else None
        message = f"openai: HTTP {status}: {short(self._redact(str(detail or exc.message)))}"
        return ProviderError(message, status=status, retryable=retryable_status(status))
