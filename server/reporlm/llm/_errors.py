"""Helpers shared by the hosted-API clients to turn SDK failures, and replies of the wrong shape,
into ProviderError safely.

The SDKs build reply objects without validating them, so a proxy's error page, a truncated body or
a 200 without the expected fields would reach us as `None`s, strings or dicts where objects were
promised: every field a client uses is read through `field` and checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from reporlm.llm.base import ProviderError

# Shapes of credentials that may appear in an echoed request or a proxy's error page.
_KEY_SHAPES = re.compile(r"(sk-[A-Za-z0-9_\-]{8,}|Bearer\s+[A-Za-z0-9_\-\.=]{8,})")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with the given secrets and anything shaped like an API key replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _KEY_SHAPES.sub("***", text)


def retryable_status(status: int | None) -> bool:
    """Whether a caller may usefully try again later: timeouts, conflicts, rate limits, overload, 5xx."""
    return status is not None and (status in (408, 409, 429) or status >= 500)


def short(text: str, limit: int = 500) -> str:
    """Provider error bodies can be whole HTML pages; keep messages readable."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


UNREADABLE = (ValueError, RecursionError)
"""What the SDKs raise while parsing a body that is not JSON (see `unreadable`)."""


def unreadable(provider: str, exc: BaseException) -> ProviderError:
    """A reply that could not be read as JSON (a proxy's page, a cut body), worth a retry later.

    Re-raises a ValueError that is not about the reply: a bug, not the provider's fault.
    """
    reading = (json.JSONDecodeError, UnicodeDecodeError, RecursionError)
    if not isinstance(exc, reading) and "integer string conversion" not in str(exc):
        raise exc
    return ProviderError(
        f"{provider}: the reply is not valid JSON ({type(exc).__name__}: {short(str(exc), 200)})",
        retryable=True,
    )


def malformed(provider: str, what: str) -> ProviderError:
    return ProviderError(f"{provider}: malformed reply: {what}", retryable=True)


def field(obj: Any, name: str) -> Any:
    """`obj.name` of an SDK object, or `obj[name]` of a plain dict; None when absent."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def token_count(provider: str, obj: Any, name: str) -> int:
    """A token count of the reply's usage: a whole number ≥ 0, or 0 when the server left it out."""
    value = field(obj, name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise malformed(provider, f"usage.{name} is {short(repr(value), 60)}, not a token count")
    return value


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
