"""What the server needs of the engine, the workspace and the model clients.

Imported once `initialize` has been answered (see `ReporlmServer.load`): these modules cost a few
hundred milliseconds to import, and an editor waits for `initialize`, not for them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from reporlm.app import build_models, engine_options
from reporlm.config import ConfigError, Settings
from reporlm.engine.explain import NothingToExplain
from reporlm.engine.rlm import Models
from reporlm.engine.session import Session
from reporlm.engine.subcall_cache import SubcallCache
from reporlm.llm.base import ProviderError
from reporlm.llm.local import LocalUnavailable
from reporlm.llm.registry import default_models
from reporlm.lsp import wire
from reporlm.lsp.options import ServerOptions
from reporlm.lsp.runs import Setup
from reporlm.lsp.script import load_script
from reporlm.sandbox import SandboxUnavailable
from reporlm.workspace import Repo, WorkspaceError
from reporlm.workspace.index import IndexStatus
from reporlm.workspace.paths import to_relative

log = logging.getLogger(__name__)

STOP_CHECK_SECONDS = 1.0
"""How soon waiting for an index notices that its folder closed."""


def open_repo(root: Path, overlay: Mapping[str, str]) -> Repo:
    try:
        return Repo(root, overlay=overlay)
    except WorkspaceError as exc:
        raise ConfigError(str(exc)) from None


def make_setup(
    settings: Settings,
    provider: str,
    server_options: ServerOptions,
    repo: Repo,
    cache: SubcallCache,
) -> Setup:
    """Sessions on `repo` with these settings; the model clients are built at the first run."""
    secrets = [settings.api_key] if settings.api_key else []
    options = engine_options(settings, provider)

    def make_models() -> Models:
        if provider == "scripted" and server_options.script:
            client = load_script(server_options.script)
            root, sub = default_models("scripted")
            return Models(root=client, root_model=settings.model or root, sub=client, sub_model=sub)
        return build_models(settings)

    def make_session(models: Models) -> Session:
        return Session(repo, models, options, secrets=secrets, owns_clients=False, cache=cache)

    return Setup(make_models, make_session)


def command_error(exc: Exception, clean: Callable[[str], str]) -> JsonRpcException | None:
    """The protocol error for what an engine call raised, or None for a bug (an internal error)."""
    if isinstance(exc, ConfigError | LocalUnavailable):
        return wire.ConfigurationFailed(clean(str(exc)))
    if isinstance(exc, ProviderError):
        return wire.ProviderFailed(f"the model provider failed: {clean(str(exc))}")
    if isinstance(exc, SandboxUnavailable):
        return wire.SandboxFailed(f"the code sandbox cannot start here: {exc}")
    if isinstance(exc, WorkspaceError | NothingToExplain):
        return JsonRpcInvalidParams(str(exc))
    return None


def relative_path(repo: Repo, uri: str) -> str:
    try:
        return to_relative(repo.root, uri)
    except WorkspaceError as exc:
        raise JsonRpcInvalidParams(f"{exc}; reporlm answers about {repo.root}") from None


def line_text(repo: Repo, path: str, line: int) -> str:
    try:
        return repo.read(path, line, line).rstrip("\r\n")
    except WorkspaceError as exc:
        raise JsonRpcInvalidParams(str(exc)) from None


def settled_index(
    repo: Repo, stop: threading.Event, on_progress: Callable[[IndexStatus], None] | None = None
) -> IndexStatus | None:
    """The symbol index's status once its background sync is over; None when `stop` is set first
    (the folder is closing). Meanwhile `on_progress` hears the index's progress as it reports it."""
    settled = threading.Event()

    def heard(status: IndexStatus) -> None:
        if status.state not in ("indexing", "not started"):
            settled.set()
        elif on_progress is not None:
            on_progress(status)

    repo.watch_index(heard)
    try:
        status = repo.index_status()
        if status.state not in ("indexing", "not started"):
            return status
        # The index says when it is done; the timeout only lets a closing folder stop waiting.
        while not settled.wait(STOP_CHECK_SECONDS):
            if stop.is_set():
                return None
        return repo.index_status()
    finally:
        repo.unwatch_index(heard)


def update(repo: Repo, paths: list[str]) -> None:
    try:
        repo.update(*paths)
    except WorkspaceError as exc:  # a file outside the repository, or gone again
        log.info("not re-indexed: %s", exc)


class EngineSide:
    """The engine as the server uses it: one typed object, imported after `initialize`."""

    open_repo = staticmethod(open_repo)
    make_setup = staticmethod(make_setup)
    command_error = staticmethod(command_error)
    relative_path = staticmethod(relative_path)
    line_text = staticmethod(line_text)
    settled_index = staticmethod(settled_index)
    update = staticmethod(update)


ENGINE = EngineSide()
