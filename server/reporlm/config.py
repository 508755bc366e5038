"""One settings object, read from (lowest precedence first): the repository's file
(`[tool.reporlm]` in pyproject.toml, or `.reporlm.toml`), environment variables, command-line flags,
and LSP initializationOptions.

A repository is untrusted (a pull request can change its settings file), so its file may only
*lower* limits: the budget, `block_seconds`, `output_chars`, and only below what would apply
without it. Everything else comes from the user alone: the provider and models (a model name can
be a path to a file the local provider loads, and an unpriced one would turn the dollar cap off),
`base_url` (it would receive the API key) and keys, resource caps (`block_memory_mb`,
`concurrency`, `local_threads`) and trace retention (it decides what is deleted from a folder
shared by every repository). The file's other keys are ignored with a warning.

A dollar cap is enforced only for models with a price (llm/prices.py). With an unpriced model on a
provider that bills, a cap the user (or the repository) asked for is refused as a configuration
error; the default cap gets a warning that only the token caps bound the run.
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
from reporlm.engine.prompting import PROMPT_VERSION, PROMPT_VERSIONS
from reporlm.llm.prices import is_loopback, price_of
from reporlm.llm.registry import PROVIDERS, api_key_from, default_provider

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
    "prompt_version": "REPORLM_PROMPT_VERSION",
    "subcall_cache_mb": "REPORLM_SUBCALL_CACHE_MB",
}
# What a repository's settings file may set, and only to lower it: tighter is always safe.
_LOWERABLE = ("block_seconds", "output_chars")
_LIMIT_NAMES = tuple(f.name for f in fields(Limits))
_warned_caps: set[tuple[str, str, float]] = set()


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
    "subcall_cache_mb": _Number(float, 0, "a size in MB, 0 or more (0: keep no answers)"),
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
    subcall_cache_mb: float = 64.0
    """Sub-call answers a server keeps (by model and prompt) for its whole life, in MB; the answers
    used least recently go first past it, 0 keeps none."""
    prompt_version: str = PROMPT_VERSION
    """Which version of the model-facing prompts (engine/prompts/<version>/); older ones stay
    selectable so that runs can compare them."""
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
    """The user's settings (environment < overrides: CLI flags or LSP options) on the defaults,
    then what the repository's file lowers among what the user left unset."""
    env = os.environ if env is None else env
    merged: dict[str, Any] = {key: _from_env(key, var, env[var]) for key, var in _ENV.items() if env.get(var)}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key == "limits" and isinstance(value, Mapping):
            merged["limits"] = {**merged.get("limits", {}), **value}
        else:
            merged[key] = value
    settings = _build(merged)
    user_limits = merged.get("limits", {})
    cap_asked = isinstance(user_limits, Mapping) and user_limits.get("max_cost_usd") is not None
    if repo is not None:
        table, source = _from_repo_file(repo)
        settings, lowered = _lowered_by_repo(settings, table, source, merged)
        cap_asked = cap_asked or "max_cost_usd" in lowered
    settings = replace(settings, api_key=_api_key(settings, env))
    check_cost_cap(settings, env, asked=cap_asked)
    return settings


def _from_repo_file(repo: Path) -> tuple[dict[str, Any], str]:
    """The repository's settings table and where it came from (for messages)."""
    table: dict[str, Any] = {}
    dotfile, pyproject = repo / ".reporlm.toml", repo / "pyproject.toml"
    source = ".reporlm.toml" if dotfile.is_file() else "[tool.reporlm] in pyproject.toml"
    try:
        if dotfile.is_file():
            table = tomllib.loads(_settings_text(dotfile))
        elif pyproject.is_file():
            table = tomllib.loads(_settings_text(pyproject)).get("tool", {}).get("reporlm", {})
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read reporlm settings from {repo}: {exc}") from None
    if not isinstance(table, dict):
        raise ConfigError(f"reporlm settings in {repo} ({source}) must be a table")
    if "budget" in table:
        table["limits"] = table.pop("budget")
    return table, source


MAX_SETTINGS_FILE_BYTES = 1024 * 1024
"""A repository's settings file is read whole, on the server's event loop: a 2 GB one is refused."""


def _settings_text(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(MAX_SETTINGS_FILE_BYTES + 1)
    if len(data) > MAX_SETTINGS_FILE_BYTES:
        raise OSError(f"{path.name} is larger than {MAX_SETTINGS_FILE_BYTES // 1024} KB")
    return data.decode("utf-8")


def _lowered_by_repo(
    settings: Settings, table: Mapping[str, Any], source: str, user: Mapping[str, Any]
) -> tuple[Settings, set[str]]:
    """`settings` with the repository's lower limits applied where the user set none; the names
    of the limits it lowered. Unknown keys are errors, as anywhere; others are ignored, loudly."""
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) in {source}: {', '.join(unknown)}")
    limits = table.get("limits", {})
    if not isinstance(limits, Mapping):
        raise ConfigError(f"budget in {source} must be a table of limits")
    bad = sorted(set(limits) - set(_LIMIT_NAMES))
    if bad:
        raise ConfigError(
            f"unknown budget limit(s) in {source}: {', '.join(bad)}; known: {', '.join(sorted(_LIMIT_NAMES))}"
        )
    for key in sorted(set(table) - {"limits", *_LOWERABLE}):
        log.warning(
            "ignoring %r from the repository's %s: a repository may only lower limits; providers, "
            "models, endpoints, keys, resource caps and trace settings come only from you (flags, "
            "environment, editor settings)",
            key,
            source,
        )
    user_limits = user.get("limits", {})
    lowered: set[str] = set()
    new_limits: dict[str, Any] = {}
    for name, value in limits.items():
        if name in user_limits:
            continue  # the user's own value wins, as flags win over the file
        current = getattr(settings.limits, name)
        if _lower(name, value, current, source):
            new_limits[name] = value
            lowered.add(name)
    top: dict[str, Any] = {}
    for name in _LOWERABLE:
        if name in table and name not in user and _lower(name, table[name], getattr(settings, name), source):
            top[name] = table[name]
            lowered.add(name)
    return replace(settings, limits=replace(settings.limits, **new_limits), **top), lowered


def _lower(name: str, value: Any, current: int | float | None, source: str) -> bool:
    """Whether the repository's `value` for `name` is a valid number below `current`."""
    default = getattr(Limits(), name, None) if name in _LIMIT_NAMES else getattr(Settings(), name)
    kinds = (int,) if isinstance(default, int) else (int, float)
    # isfinite() of a huge int raises OverflowError: only floats can be infinite or NaN.
    infinite = isinstance(value, float) and not math.isfinite(value)
    if isinstance(value, bool) or not isinstance(value, kinds) or infinite or value < 0:
        kind = "a whole number" if kinds == (int,) else "a number"
        raise ConfigError(f"{name} in {source} must be {kind}, 0 or more, not {value!r}")
    if current is not None and value >= current:
        if value > current:
            log.warning(
                "ignoring %s = %r from the repository's %s: a repository may only lower limits (it stays %r)",
                name,
                value,
                source,
                current,
            )
        return False
    return True


def check_cost_cap(settings: Settings, env: Mapping[str, str], *, asked: bool) -> None:
    """A dollar cap must not be switched off in silence by a model the price table does not know."""
    cap = settings.limits.max_cost_usd
    if cap is None:
        return
    from reporlm.app import model_names  # the provider's default models, as the run will use them

    try:
        provider, root, sub = model_names(settings, env)
    except ConfigError:
        return  # an unknown provider: refused where the provider is resolved
    base_url = settings.base_url or env.get("OPENAI_BASE_URL", "")  # the openai client reads it too
    # Providers whose calls cost nothing, and an openai-compatible server on this machine.
    free = PROVIDERS[provider].free if provider in PROVIDERS else False
    if free or (provider == "openai" and base_url and is_loopback(base_url)):
        return
    unpriced = sorted({m for m in (root, sub) if price_of(m) is None})
    if not unpriced:
        return
    names = ", ".join(repr(m) for m in unpriced)
    if asked:
        raise ConfigError(
            f"the dollar cap (max_cost_usd = {cap:g}) cannot be enforced: reporlm has no price for the "
            f"{provider} model {names}, so its calls would not count toward it. Choose a model from the "
            "price table (reporlm/llm/prices.py), or drop the dollar cap to run with the token caps only"
        )
    key = (provider, names, cap)
    if key not in _warned_caps:
        _warned_caps.add(key)
        limits = settings.limits
        log.warning(
            "reporlm has no price for the %s model %s: the default dollar cap ($%g) cannot be enforced "
            "for it; only the token caps (%s input, %s output tokens) bound this run",
            provider,
            names,
            cap,
            limits.max_input_tokens,
            limits.max_output_tokens,
        )


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
        or (isinstance(value, float) and not math.isfinite(value))
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
    version = values.get("prompt_version")
    if version is not None and version not in PROMPT_VERSIONS:
        raise ConfigError(f"prompt_version must be one of {', '.join(PROMPT_VERSIONS)}, not {version!r}")
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
    checked = {name: _checked_limit(name, value) for name, value in limits.items()}
    try:
        return Settings(limits=replace(Limits(), **checked), **values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None


MAX_FRACTIONAL_LIMIT = 10**15
"""Larger seconds or dollars than this mean "no limit" in practice; far larger ones do not fit a float."""


def _checked_limit(name: str, value: Any) -> int | float | None:
    """A budget limit as its field's type: a whole number (or any number, for dollars and
    seconds) ≥ 0, or None where the field allows no limit. A run does arithmetic on them."""
    kind = next(f.type for f in fields(Limits) if f.name == name)
    if value is None and "None" in str(kind):
        return None
    whole = "int" in str(kind)
    ok = (int,) if whole else (int, float)
    infinite = isinstance(value, float) and not math.isfinite(value)  # (an int of 400 digits is finite)
    if isinstance(value, bool) or not isinstance(value, ok) or infinite or value < 0:
        meaning = "a whole number ≥ 0" if whole else "a number ≥ 0"
        raise ConfigError(f"{name} must be {meaning}, not {value!r}")
    if not whole and isinstance(value, int) and value > MAX_FRACTIONAL_LIMIT:
        # Seconds and dollars meet floats (a deadline is now + seconds): a 400-digit int overflows there.
        digits = len(str(value))
        raise ConfigError(f"{name} must be at most {MAX_FRACTIONAL_LIMIT:.0e}, not a {digits}-digit number")
    return value


def _api_key(settings: Settings, env: Mapping[str, str]) -> str | None:
    if settings.api_key_file:
        path = Path(settings.api_key_file).expanduser()
        try:
            return path.read_text("utf-8").strip() or None
        except OSError as exc:
            raise ConfigError(f"cannot read the API key file {path}: {exc.strerror}") from None
    return api_key_from(env, settings.provider or default_provider(env))
