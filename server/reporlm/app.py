"""Turning Settings into a running engine Session: the one place that picks clients and models.

The CLI and the language server both come through here, so they answer with the same setup. The
engine, sandbox and workspace are imported where they are used: the language server must answer
`initialize` before it has paid for them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from reporlm.config import ConfigError, Settings
from reporlm.llm.registry import PROVIDERS, default_models, default_provider, make_client

if TYPE_CHECKING:
    from reporlm.engine.options import EngineOptions
    from reporlm.engine.rlm import Models

LOCAL_CONTEXT_TOKENS = 16384
"""The embedded model's window; Qwen2.5-Coder takes 32K but this keeps memory and prompt time modest."""


LOCAL_MAP_TOKENS = 0
LOCAL_EVIDENCE_TOKENS = 300
"""Budgets of the ranked map and of the evidence block for the embedded model: its whole first
prompt (system prompt, example, a folders-only tree, evidence and question) stays under 2,000
tokens. No map: unpersonalized, it shows the most referenced definitions (overloads of `get`),
which the evidence block's question-specific facts make redundant."""


def resolve_provider(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    provider = settings.provider or default_provider(os.environ if env is None else env)
    if provider not in PROVIDERS:
        raise ConfigError(f"unknown provider {provider!r}; choose one of: {', '.join(PROVIDERS)}")
    return provider


def model_names(settings: Settings, env: Mapping[str, str] | None = None) -> tuple[str, str, str]:
    """(provider, root model, sub-model) the settings resolve to, without building any client."""
    provider = resolve_provider(settings, env)
    root_default, sub_default = default_models(provider)
    root_model = settings.model or root_default
    sub_model = settings.sub_model or (root_model if settings.model and provider == "openai" else sub_default)
    return provider, root_model, sub_model


def build_models(settings: Settings, env: Mapping[str, str] | None = None) -> Models:
    from reporlm.engine.rlm import Models

    provider, root_model, sub_model = model_names(settings, env)
    kwargs: dict[str, object] = {}
    if provider == "local":
        kwargs["n_ctx"] = LOCAL_CONTEXT_TOKENS
        if settings.local_threads is not None:
            kwargs["n_threads"] = settings.local_threads
        kwargs["prefix_cache"] = settings.local_prefix_cache
        kwargs["prefix_cache_mb"] = settings.local_prefix_cache_mb
    else:
        kwargs.update(base_url=settings.base_url, api_key=settings.api_key)
    client = make_client(provider, **kwargs)
    return Models(root=client, root_model=root_model, sub=client, sub_model=sub_model)


def engine_options(settings: Settings, provider: str) -> EngineOptions:
    from reporlm.engine.options import EngineOptions
    from reporlm.engine.trace_retention import TraceRetention
    from reporlm.sandbox import SandboxLimits

    options = EngineOptions(
        limits=settings.limits,
        sandbox=SandboxLimits(
            wall_seconds=settings.block_seconds,
            cpu_seconds=settings.block_seconds,
            memory_mb=settings.block_memory_mb,
        ),
        output_chars=settings.output_chars,
        concurrency=settings.concurrency,
        trace_retention=TraceRetention(settings.trace_max_age_days, settings.trace_max_mb),
        prompt_version=settings.prompt_version,
    )
    if provider == "local":
        # A small model on two cores: shorter turns and a context that fits its window.
        options = replace(
            options,
            context_tokens=LOCAL_CONTEXT_TOKENS,
            root_max_tokens=1024,
            sub_max_tokens=512,
            sub_prompt_chars=24_000,
            output_chars=min(settings.output_chars, 3000),
            # Small models follow a short first prompt far better than a long one.
            map_tokens=LOCAL_MAP_TOKENS,
            folders_only=True,
            evidence_tokens=LOCAL_EVIDENCE_TOKENS,
        )
    return options
