"""Client options (`initializationOptions`, `workspace/didChangeConfiguration`) → settings overrides.

Editors send camelCase (`subModel`, `budget.maxIterations`); settings are snake_case. Both are
accepted. Options that only the server understands (`maxRuns`, `script`) are split off; the rest go
to `config.load_settings(..., overrides=...)`, which rejects unknown keys. API keys are refused
here: they come from the server's environment or `apiKeyFile` only, so they never cross the wire
and never land in a client's settings file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reporlm.config import ConfigError

DEFAULT_MAX_RUNS = 4
_SECRET_KEYS = {"api_key", "apikey", "token", "secret"}
# What a client on the network (`serve --tcp`) may never set, and why: each would hand it the
# user's key, a file of the user's, or code execution.
_NETWORK_REFUSED = {
    "base_url": "an endpoint it chose would receive the API key",
    "api_key_file": "the server would read a file of its choosing and send it as the API key",
    "script": "the scripted provider runs replies from a file of its choosing",
}


@dataclass(frozen=True)
class ServerOptions:
    max_runs: int = DEFAULT_MAX_RUNS
    """Runs (ask, plan, explain) at once across the server; past it a request gets a "busy" error."""
    script: str | None = None
    """A JSON file of model replies for the `scripted` provider (tests, benchmarks); see lsp.script."""


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def normalize(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """snake_case keys (one level down for the budget), `budget` as `limits`; None values kept.

    A None value means "not set here", so a client can unset what it set before.
    """
    out: dict[str, Any] = {}
    for key, value in (raw or {}).items():
        name = snake(str(key))
        if name in _SECRET_KEYS:
            raise ConfigError(
                f"{key!r} is not accepted from the client: the server takes API keys only from its "
                "environment (ANTHROPIC_API_KEY, OPENAI_API_KEY) or from the file named by apiKeyFile"
            )
        if name in ("budget", "limits"):
            name = "limits"
            if isinstance(value, Mapping):
                value = {snake(str(k)): v for k, v in value.items()}
        out[name] = value
    return out


def refuse_for_network(options: Mapping[str, Any]) -> None:
    """Raise ConfigError if normalized `options` from a network client set what only the user may:
    endpoints, key files, the scripted provider, a model file. (Unsetting is fine.)"""
    for key, why in _NETWORK_REFUSED.items():
        if options.get(key) is not None:
            raise ConfigError(
                f"{key} is not accepted from a network client: {why}; set it where the server starts"
            )
    if options.get("provider") == "scripted":
        raise ConfigError("the scripted provider is not accepted from a network client (it is for tests)")
    for key in ("model", "sub_model"):
        value = options.get(key)
        if isinstance(value, str) and value.strip().lower().endswith(".gguf"):
            raise ConfigError(
                f"{key} {value!r} is not accepted from a network client: the server would load that file; "
                "name an embedded model, or set the file where the server starts"
            )


def split(options: Mapping[str, Any]) -> tuple[dict[str, Any], ServerOptions]:
    """Normalized options → (settings overrides, server options)."""
    overrides = {k: v for k, v in options.items() if k not in ("max_runs", "script")}
    if isinstance(overrides.get("limits"), Mapping):
        overrides["limits"] = {k: v for k, v in overrides["limits"].items() if v is not None}
    max_runs = options.get("max_runs")
    if max_runs is None:
        max_runs = DEFAULT_MAX_RUNS
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise ConfigError(f"maxRuns must be a whole number of at least 1, not {max_runs!r}")
    script = options.get("script")
    if script is not None and not isinstance(script, str):
        raise ConfigError(f"script must be a file path, not {script!r}")
    return overrides, ServerOptions(max_runs=max_runs, script=script)


def merge(current: Mapping[str, Any], changed: Mapping[str, Any]) -> dict[str, Any]:
    """`current` updated by `changed`; a None in `changed` removes the key (back to the default)."""
    merged = dict(current)
    for key, value in changed.items():
        if value is None:
            merged.pop(key, None)
        elif key == "limits" and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            limits = {**merged[key], **value}
            merged[key] = {k: v for k, v in limits.items() if v is not None}
        else:
            merged[key] = value
    return merged
