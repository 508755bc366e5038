"""The model providers: one table, and building a client by provider name.

Everything that differs by provider is a field of its row here: the client class (imported only
when chosen, so an unused SDK or llama.cpp is never loaded), the environment variable holding its
API key, its default models, whether its calls cost nothing, and whether users may pick it (the CLI's
`--provider` choices and the VS Code extension's setting are checked against that). Adding a
provider is a client module and one row.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reporlm.llm.base import ModelClient


@dataclass(frozen=True)
class Provider:
    name: str
    client: tuple[str, str]
    """(module, class) of its ModelClient, imported on demand."""
    root_model: str
    """The default model that drives the REPL: a strong one."""
    sub_model: str
    """The default reader llm_query calls: a cheap one."""
    key_env: str | None = None
    """The environment variable that holds its API key (None: it needs none)."""
    hosted: bool = True
    """Calls go to an endpoint (base_url and api_key apply)."""
    free: bool = False
    """Its calls cost nothing, so an unpriced model does not defeat a dollar cap."""
    offered: bool = True
    """Users may choose it (the CLI, the editor settings); the scripted one is for tests."""


_ROWS = (
    # claude-sonnet-4-5 is deprecated (end of life 2026-11-30); 4.6 behaves alike and is not.
    Provider(
        "anthropic",
        ("reporlm.llm.anthropic_client", "AnthropicClient"),
        "claude-sonnet-4-6",
        "claude-haiku-4-5",
        key_env="ANTHROPIC_API_KEY",
    ),
    Provider(
        "openai",
        ("reporlm.llm.openai_client", "OpenAIClient"),
        "gpt-5",
        "gpt-5-mini",
        key_env="OPENAI_API_KEY",
    ),
    Provider(
        "local",
        ("reporlm.llm.local", "LocalClient"),
        "qwen2.5-coder-0.5b",
        "qwen2.5-coder-0.5b",
        hosted=False,
        free=True,
    ),
    Provider(
        "scripted",
        ("reporlm.llm.scripted", "ScriptedClient"),
        "scripted",
        "scripted",
        hosted=False,
        free=True,
        offered=False,
    ),
)
PROVIDERS: dict[str, Provider] = {row.name: row for row in _ROWS}
OFFERED: tuple[str, ...] = tuple(row.name for row in _ROWS if row.offered)
"""What users may choose, in the order the CLI and the editor list them."""


def provider(name: str) -> Provider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise ValueError(f"unknown model provider {name!r}; choose one of {', '.join(PROVIDERS)}") from None


def make_client(
    name: str, *, base_url: str | None = None, api_key: str | None = None, **opts: Any
) -> ModelClient:
    """A client for provider `name`; `opts` go to its constructor (e.g. `max_retries`, `n_ctx`)."""
    row = provider(name)
    module_name, class_name = row.client
    cls = getattr(importlib.import_module(module_name), class_name)
    if row.hosted:
        return cls(api_key=api_key, base_url=base_url, **opts)
    if base_url is not None or api_key is not None:
        raise ValueError(f"the {name} provider takes no base_url or api_key")
    if name == "scripted":
        return cls(opts.pop("replies", ()), **opts)
    return cls(**opts)


def default_provider(env: Mapping[str, str]) -> str:
    """`anthropic` when an Anthropic key is set, else the embedded `local` model (works offline)."""
    key = PROVIDERS["anthropic"].key_env
    return "anthropic" if key and env.get(key, "").strip() else "local"


def default_models(name: str) -> tuple[str, str]:
    """The (root model, sub-model) pair used when the configuration names none."""
    row = provider(name)
    return row.root_model, row.sub_model


def api_key_from(env: Mapping[str, str], name: str) -> str | None:
    """The provider's key from the environment (None when it takes none or none is set)."""
    var = provider(name).key_env if name in PROVIDERS else None
    return (env.get(var) or "").strip() or None if var else None
