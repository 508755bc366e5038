"""Helpers shared by the hosted-API clients to turn SDK failures into ProviderError safely."""

from __future__ import annotations

import re
from collections.abc import Iterable

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
