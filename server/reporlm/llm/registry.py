"""Choosing and building a model client by provider name, importing only the SDK it needs."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from reporlm.llm.base import ModelClient

PROVIDERS: tuple[str, ...] = ("anthropic", "openai", "local", "scripted")

# provider -> (module, class); imported on demand so an unused SDK (or llama.cpp) is never loaded.
_CLASSES: dict[str, tuple[str, str]] = {
    "anthropic": ("reporlm.llm.anthropic_client", "AnthropicClient"),
    "openai": ("reporlm.llm.openai_client", "OpenAIClient"),
    "local": ("reporlm.llm.local", "LocalClient"),
    "scripted": ("reporlm.llm.scripted", "ScriptedClient"),
}

# (root, sub): a strong model drives the REPL, a cheap one reads the snippets it picks.
_DEFAULT_MODELS: dict[str, tuple[str, str]] = {
    # claude-sonnet-4-5 is deprecated (end of life 2026-11-30); 4.6 behaves alike and is not.
    "anthropic": ("claude-sonnet-4-6", "claude-haiku-4-5"),
    "openai": ("gpt-5", "gpt-5-mini"),
    "local": ("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b"),
    "scripted": ("scripted", "scripted"),
}


def make_client(
    provider: str, *, base_url: str | None = None, api_key: str | None = None, **opts: Any
) -> ModelClient:
    """A client for ``provider``; ``opts`` go to its constructor (e.g. ``max_retries``, ``n_ctx``)."""
    try:
        module_name, class_name = _CLASSES[provider]
    except KeyError:
        raise ValueError(
            f"unknown model provider {provider!r}; choose one of {', '.join(PROVIDERS)}"
        ) from None
    cls = getattr(importlib.import_module(module_name), class_name)
    if provider in ("anthropic", "openai"):
        return cls(api_key=api_key, base_url=base_url, **opts)
    if base_url is not None or api_key is not None:
        raise ValueError(f"the {provider} provider takes no base_url or api_key")
    if provider == "scripted":
        return cls(opts.pop("replies", ()), **opts)
    return cls(**opts)


def default_provider(env: Mapping[str, str]) -> str:
    """``anthropic`` when an Anthropic key is set, else the embedded ``local`` model (works offline)."""
    return "anthropic" if env.get("ANTHROPIC_API_KEY", "").strip() else "local"


def default_models(provider: str) -> tuple[str, str]:
    """The (root model, sub-model) pair used when the configuration names none."""
    try:
        return _DEFAULT_MODELS[provider]
    except KeyError:
        raise ValueError(
            f"unknown model provider {provider!r}; choose one of {', '.join(PROVIDERS)}"
        ) from None
