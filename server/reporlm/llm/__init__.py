"""Model clients: anthropic, openai-compatible, local (llama.cpp) and scripted.

Importing this package loads no SDK: a client class is imported on first access (or by
``make_client``), so ``anthropic``, ``openai`` and ``llama_cpp`` load only when that provider is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reporlm.llm.base import Completion, Message, ModelClient, ProviderError, Usage
from reporlm.llm.prices import cost
from reporlm.llm.registry import PROVIDERS, default_models, default_provider, make_client

if TYPE_CHECKING:
    from reporlm.llm.anthropic_client import AnthropicClient
    from reporlm.llm.local import LocalClient
    from reporlm.llm.openai_client import OpenAIClient
    from reporlm.llm.scripted import ScriptedClient

_LAZY = {
    "AnthropicClient": "reporlm.llm.anthropic_client",
    "OpenAIClient": "reporlm.llm.openai_client",
    "LocalClient": "reporlm.llm.local",
    "ScriptedClient": "reporlm.llm.scripted",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PROVIDERS",
    "AnthropicClient",
    "Completion",
    "LocalClient",
    "Message",
    "ModelClient",
    "OpenAIClient",
    "ProviderError",
    "ScriptedClient",
    "Usage",
    "cost",
    "default_models",
    "default_provider",
    "make_client",
]
