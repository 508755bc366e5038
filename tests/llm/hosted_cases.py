"""The hosted providers as test cases: how each one's API answers, and how its client is made.

Every client is tested through its real SDK against the local fake server (`fake_api`); the
tests that hold for every provider take a `Hosted` case (see test_hosted_clients.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fake_api import FakeAPI
from reporlm.llm.anthropic_client import AnthropicClient
from reporlm.llm.base import Completion, Message, ModelClient
from reporlm.llm.openai_client import OpenAIClient

# `retry-after: 0` alone falls back to the SDK's half-second back-off; the ms header retries at once.
RETRY_NOW = {"retry-after": "0", "retry-after-ms": "1"}

CONVERSATION = [
    Message("system", "You are a careful code reader."),
    Message("user", "Where is main defined?"),
    Message("assistant", "```repl\nprint(repo.grep('def main'))\n```"),
    Message("user", "Output: src/app.py:12"),
]

Malformed = dict[str, tuple[Any, dict[str, str], str]]
"""Replies with status 200 that the SDK cannot turn into an answer: (body, headers, what the error says)."""

# Replies every API can be sent by a proxy, a half-compatible server or a bug.
NOT_JSON: Malformed = {
    "a body that is not JSON": (b"not json {", {}, "the reply is not valid JSON (JSONDecodeError"),
    "an empty body": (b"", {}, "the reply is not valid JSON"),
    "bytes that are not UTF-8": (b'"\xff\xfe"', {}, "the reply is not valid JSON (UnicodeDecodeError"),
    "an HTML page": (
        b"<html>bad gateway</html>",
        {"content-type": "text/html"},
        "a '<html>bad gateway</html>' body",
    ),
}


async def complete(
    client: ModelClient, messages: Sequence[Message] = CONVERSATION, *, model: str, max_tokens: int = 16
) -> Completion:
    """One call, and the client closed whatever came of it."""
    try:
        return await client.complete(messages, model=model, max_tokens=max_tokens)
    finally:
        await client.aclose()


# -- Anthropic Messages API ------------------------------------------------------------------------

ANTHROPIC_KEY = "sk-ant-test-0123456789abcdefSECRET"


def message_body(text: str = "It is in src/app.py:12.", **usage: int) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6-20260217",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5, **usage},
    }


def anthropic_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


# -- OpenAI chat completions -----------------------------------------------------------------------

OPENAI_KEY = "sk-proj-test-0123456789abcdefSECRET"


def chat_body(
    text: str = "In src/app.py:12.", model: str = "gpt-4o-mini", usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def chat_choice(message: object) -> dict[str, Any]:
    """A chat completion whose one choice has this message."""
    return {**chat_body(), "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


def openai_error(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": None, "param": None}}


# -- the cases ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hosted:
    """One provider: its client, its variables, and its API's answers to the common situations."""

    name: str
    new: Callable[..., ModelClient]
    key: str
    model: str
    """A model with a price, used where the model does not matter."""
    env: tuple[str, str]
    """The variables that name the API key and the endpoint."""
    path: str
    """What the client's base URL adds to the server's address."""
    answer: Callable[[str], dict[str, Any]]
    """A successful reply that answers the text given."""
    rate_limited: dict[str, Any]
    """The body of a 429."""
    overloaded: tuple[int, dict[str, Any]]
    """The status and body of an overloaded service."""
    rejects_key: Callable[[str], dict[str, Any]]
    """The body of a 401 that quotes the credential given (a hostile or buggy proxy)."""
    rejection: str
    """What the ProviderError of that 401 says."""
    malformed: Malformed

    def client(self, fake_api: FakeAPI, **kwargs: Any) -> ModelClient:
        kwargs.setdefault("max_retries", 2)
        kwargs.setdefault("api_key", self.key)
        return self.new(base_url=f"{fake_api.url}{self.path}", timeout=10.0, **kwargs)


ANTHROPIC = Hosted(
    name="anthropic",
    new=AnthropicClient,
    key=ANTHROPIC_KEY,
    model="claude-haiku-4-5",
    env=("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    path="",
    answer=message_body,
    rate_limited=anthropic_error("rate_limit_error", "slow down"),
    overloaded=(529, anthropic_error("overloaded_error", "Overloaded")),
    rejects_key=lambda credential: anthropic_error(
        "authentication_error", f"invalid credential: {credential}"
    ),
    rejection="authentication_error",
    # The SDK parses none of these into a Message.
    malformed={
        **NOT_JSON,
        "a 5,000-digit number": (b"1" * 5000, {}, "the reply is not valid JSON (ValueError"),
        "no content": ({k: v for k, v in message_body().items() if k != "content"}, {}, "no content list"),
        "content null": ({**message_body(), "content": None}, {}, "no content list"),
        "content a string": ({**message_body(), "content": "hi"}, {}, "no content list"),
        "a text block without text": (
            {**message_body(), "content": [{"type": "text"}]},
            {},
            "a text block without text",
        ),
        "text that is a number": (
            {**message_body(), "content": [{"type": "text", "text": 5}]},
            {},
            "without text",
        ),
        "a JSON array": ([1, 2], {}, "no content list"),
        "null": (None, {}, "no content list"),
        "token counts that are text": (
            {**message_body(), "usage": {"input_tokens": "many", "output_tokens": 1}},
            {},
            "usage.input_tokens is 'many', not a token count",
        ),
    },
)

OPENAI = Hosted(
    name="openai",
    new=OpenAIClient,
    key=OPENAI_KEY,
    model="gpt-4o-mini",
    env=("OPENAI_API_KEY", "OPENAI_BASE_URL"),
    path="/v1",
    answer=chat_body,
    rate_limited=openai_error("Rate limit reached", "requests"),
    overloaded=(503, openai_error("The engine is currently overloaded", "server_error")),
    rejects_key=lambda credential: openai_error(
        f"Incorrect API key provided: {credential}", "invalid_api_key"
    ),
    rejection="Incorrect API key",
    # The SDK validates none of these.
    malformed={
        **NOT_JSON,
        "no choices": (
            {k: v for k, v in chat_body().items() if k != "choices"},
            {},
            "the server returned no choices",
        ),
        "choices a string": ({**chat_body(), "choices": "x"}, {}, "choices is not a list"),
        "a choice without message": (
            {**chat_body(), "choices": [{"index": 0}]},
            {},
            "the first choice has no message",
        ),
        "message null": (chat_choice(None), {}, "the first choice has no message"),
        "content a number": (
            chat_choice({"role": "assistant", "content": 5}),
            {},
            "the message content is 5, not text",
        ),
        "content an object": (chat_choice({"role": "assistant", "content": {"a": 1}}), {}, "not text"),
        "token counts that are text": (
            chat_body(usage={"prompt_tokens": "x", "completion_tokens": 1}),
            {},
            "usage.prompt_tokens is 'x', not a token count",
        ),
        "negative token counts": (
            chat_body(usage={"prompt_tokens": -3, "completion_tokens": 1}),
            {},
            "is -3",
        ),
    },
)

HOSTED = (ANTHROPIC, OPENAI)
