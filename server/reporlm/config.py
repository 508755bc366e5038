"""One settings object, read from (lowest precedence first): the repository's file
(`[tool.reporlm]` in pyproject.toml, or `.reporlm.toml`), environment variables, command-line flags,
and LSP initializationOptions.

Secrets are never read from a repository file, and neither is `base_url`: a repository is untrusted,
and a base URL it chose would receive the user's API key. Nor is trace retention, which decides what
is deleted from a folder shared by all repositories.
"""

from __future__ import annotations

import logging
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from reporlm.engine.budget import Limits

log = logging.getLogger(__name__)

_ENV = {
    "provider": "REPORLM_PROVIDER",
    "model": "REPORLM_MODEL",
    "sub_model": "REPORLM_SUB_MODEL",
    "base_url": "REPORLM_BASE_URL",
    "local_threads": "REPORLM_LOCAL_THREADS",
    "local_prefix_cache": "REPORLM_LOCAL_PREFIX_CACHE",
    "local_prefix_cache_mb": "REPORLM_LOCAL_PREFIX_CACHE_MB",
    "trace_max_age_days": "REPORLM_TRACE_MAX_AGE_DAYS",
    "trace_max_mb": "REPORLM_TRACE_MAX_MB",
}
_API_KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
# Trace retention too: the trace folder holds the traces of every repository, and a repository
# must not decide what is deleted from it.
# So is the prefix cache's size: the cache folder is shared too.
_UNTRUSTED_KEYS = {
    "base_url",
    "api_key",
    "api_key_file",
    "trace_max_age_days",
    "trace_max_mb",
    "local_prefix_cache_mb",
}


class ConfigError(Exception):
    """Settings that cannot work: an unknown key, a wrong type, a missing key file."""


@dataclass(frozen=True)
class _Number:
    """A numeric setting's type and lower bound, and how to say what it must be."""

    kind: type[int] | type[float]
    minimum: float
    meaning: str


_NUMBERS = {
    "local_threads": _Number(int, 1, "a whole number of CPU threads, at least 1"),
    "trace_max_age_days": _Number(float, 0, "a number of days, 0 or more (0: no age limit)"),
    "trace_max_mb": _Number(float, 0, "a size in MB, 0 or more (0: no size cap)"),
    "local_prefix_cache_mb": _Number(float, 0, "a size in MB, 0 or more (0: no size cap)"),
}
_FLAGS = {"local_prefix_cache"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    provider: str | None = None
    """anthropic | openai | local | scripted; None: anthropic if ANTHROPIC_API_KEY is set, else local."""
    model: str | None = None
    """The root model; None uses the provider's default."""
    sub_model: str | None = None
    """The model llm_query calls; None uses the provider's default reader."""
    base_url: str | None = None
    """An OpenAI-compatible endpoint (or an Anthropic proxy); never taken from a repository file."""
    limits: Limits = field(default_factory=Limits)
    block_seconds: float = 60.0
    """Wall-clock limit of one code block in the sandbox."""
    block_memory_mb: int = 1024
    concurrency: int = 8
    """Sub-calls in flight at once."""
    output_chars: int = 6000
    """REPL output longer than this is cut in the middle before the model sees it."""
    api_key_file: str | None = None
    """A file holding the API key, for setups that keep keys out of the environment."""
    api_key: str | None = field(default=None, repr=False)
    """From the environment or api_key_file; never logged, traced or given to the sandbox."""
    local_threads: int | None = None
    """CPU threads llama.cpp uses for the embedded model; None: every core this process may use."""
    local_prefix_cache: bool = True
    """Keep the embedded model's state after the start every question shares (system prompt, example)
    in the user cache folder, so the next process loads it instead of computing it again."""
    local_prefix_cache_mb: float = 1024.0
    """Size cap of that cache; the least recently used states go first; 0: no cap. Never taken from a
    repository file."""
    trace_max_age_days: float = 14.0
    """When a run starts its trace, older traces in the trace folder are removed; 0: no age limit."""
    trace_max_mb: float = 200.0
    """When a run starts its trace, the oldest traces are removed while the folder's traces add up to
    more than this; 0: no size cap. Neither trace setting is taken from a repository file."""

    def public(self) -> dict[str, Any]:
        """The settings with secrets removed, for status reports and traces."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "api_key"}
        out["limits"] = {f.name: getattr(self.limits, f.name) for f in fields(Limits)}
        out["api_key_set"] = bool(self.api_key)
        return out


def load_settings(
    repo: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge file < environment < overrides (CLI flags or LSP options) into Settings."""
    env = os.environ if env is None else env
    merged: dict[str, Any] = {}
    if repo is not None:
        merged.update(_from_repo_file(repo))
    merged.update({key: _from_env(key, var, env[var]) for key, var in _ENV.items() if env.get(var)})
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key == "limits" and isinstance(value, Mapping):
            merged["limits"] = {**merged.get("limits", {}), **value}
        else:
            merged[key] = value
    settings = _build(merged)
    return replace(settings, api_key=_api_key(settings, env))


def _from_repo_file(repo: Path) -> dict[str, Any]:
    table: dict[str, Any] = {}
    dotfile, pyproject = repo / ".reporlm.toml", repo / "pyproject.toml"
    try:
        if dotfile.is_file():
            table = tomllib.loads(dotfile.read_text("utf-8"))
        elif pyproject.is_file():
            table = tomllib.loads(pyproject.read_text("utf-8")).get("tool", {}).get("reporlm", {})
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read reporlm settings from {repo}: {exc}") from None
    for key in sorted(_UNTRUSTED_KEYS & table.keys()):
        log.warning("ignoring %r from the repository's settings file: it may only come from you", key)
        table.pop(key)
    if "budget" in table:
        table["limits"] = table.pop("budget")
    return table


def _from_env(key: str, var: str, raw: str) -> Any:
    """An environment variable's text as the setting's type (numbers are checked in `_build`)."""
    if key in _FLAGS:
        word = raw.strip().lower()
        if word not in _TRUE | _FALSE:
            raise ConfigError(f"{var}={raw!r}: {key} must be 1 or 0 (true/false, yes/no, on/off)")
        return word in _TRUE
    number = _NUMBERS.get(key)
    if number is None:
        return raw
    try:
        return number.kind(raw.strip())
    except ValueError:
        raise ConfigError(f"{var}={raw!r}: {key} must be {number.meaning}") from None


def _checked_number(key: str, value: Any) -> int | float:
    number = _NUMBERS[key]
    ok_types = (int,) if number.kind is int else (int, float)
    if (
        isinstance(value, bool)
        or not isinstance(value, ok_types)
        or not math.isfinite(value)
        or value < number.minimum
    ):
        raise ConfigError(f"{key} must be {number.meaning}, not {value!r}")
    return number.kind(value)


def _build(values: dict[str, Any]) -> Settings:
    known = {f.name: f for f in fields(Settings)}
    unknown = sorted(set(values) - known.keys())
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    values = dict(values)
    for key in _NUMBERS.keys() & values.keys():
        if values[key] is not None:
            values[key] = _checked_number(key, values[key])
    for key in _FLAGS & values.keys():
        if not isinstance(values[key], bool):
            raise ConfigError(f"{key} must be true or false, not {values[key]!r}")
    limits = values.pop("limits", {})
    if not isinstance(limits, Mapping):
        raise ConfigError("budget/limits must be a table of limits")
    limit_names = {f.name for f in fields(Limits)}
    bad = sorted(set(limits) - limit_names)
    if bad:
        raise ConfigError(
            f"unknown budget limit(s): {', '.join(bad)}; known: {', '.join(sorted(limit_names))}"
        )
    try:
        return Settings(limits=replace(Limits(), **limits), **values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None


def _api_key(settings: Settings, env: Mapping[str, str]) -> str | None:
    if settings.api_key_file:
        path = Path(settings.api_key_file).expanduser()
        try:
            return path.read_text("utf-8").strip() or None
        except OSError as exc:
            raise ConfigError(f"cannot read the API key file {path}: {exc.strerror}") from None
    provider = settings.provider or ("anthropic" if env.get("ANTHROPIC_API_KEY") else "local")
    var = _API_KEY_ENV.get(provider)
    return env.get(var) or None if var else None
