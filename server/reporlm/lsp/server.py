"""The reporlm language server: the engine behind `workspace/executeCommand`, over stdio or TCP.

Startup answers `initialize` at once and lists the repository in the background. Each ask, plan or
explain runs as its own asyncio task with its own engine session (and sandbox worker), so the
protocol loop keeps serving while runs go; `$/cancelRequest` and a progress cancel stop that task,
and the request is answered with the partial result. Open documents form the overlay the
repository reads, so the engine sees unsaved buffers.

pygls 2.1.1 answers `$/cancelRequest` for a command itself, with an error, and lets the handler run
on: the protocol class below routes cancels of our runs to the run instead, so the run stops and
the client gets the partial answer (LSP allows partial results on cancel).
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cattrs
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcRequestCancelled,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import to_fs_path

from reporlm import __version__
from reporlm.app import model_names, resolve_provider
from reporlm.config import ConfigError, Settings, load_settings
from reporlm.engine.budget import Limits
from reporlm.llm._errors import redact
from reporlm.lsp import options as client_options
from reporlm.lsp import wire
from reporlm.lsp.arguments import AskArgs, ExplainArgs, PlanArgs, parse_ask, parse_explain, parse_plan
from reporlm.lsp.logs import ClientLogHandler
from reporlm.lsp.progress import RunProgress
from reporlm.lsp.results import Locations, answer_json, column_of, explain_json, plan_json
from reporlm.lsp.runs import RunControl, SessionPool
from reporlm.lsp.traces import new_trace_file

if TYPE_CHECKING:
    from types import ModuleType

    from reporlm.engine.session import Session
    from reporlm.workspace import Repo

log = logging.getLogger(__name__)

SHUTDOWN_WAIT_SECONDS = 5.0
_COMMAND_PARAMS: contextvars.ContextVar[types.ExecuteCommandParams | None] = contextvars.ContextVar(
    "reporlm_command_params", default=None
)


class _Answered:
    """Stands for a message that was already answered with an error while it was being read."""


class ReporlmProtocol(LanguageServerProtocol):
    _server: ReporlmServer

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        control = self._server.runs.get(msg_id)
        if control is None:
            super()._handle_cancel_notification(msg_id)
        else:  # the run stops and its handler answers with the partial result
            control.cancel()

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Any:
        """Stop serving. (pygls 2.1.1 calls sys.exit from inside the event loop, which can land
        while asyncio is already shutting down; the server's main coroutine ends instead.)"""
        if (handler := self.fm.features.get(types.EXIT)) is not None:
            yield handler, args, None
        self._server.exit_code = 0 if self._shutdown else 1
        self._server.exited.set()

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams) -> Any:
        if params.command not in self.fm.commands:
            raise JsonRpcInvalidParams(
                f"unknown command {params.command!r}; this server has: {', '.join(sorted(self.fm.commands))}"
            )
        # The handler runs in a task started from this context: it sees the request's work-done token.
        _COMMAND_PARAMS.set(params)
        result = yield from super().lsp_workspace__execute_command(params)
        self._forget_finished_handlers()
        return result

    def _forget_finished_handlers(self) -> None:
        """pygls 2.1.1 files the task of every async handler it runs for a command or notification
        under a random id and never removes it; each would keep its result (a whole answer) alive."""
        for key, future in list(self._request_futures.items()):
            if isinstance(future, asyncio.Future) and future.done():
                self._request_futures.pop(key, None)

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if not ("id" in data and "method" in data):
                raise
            # A request owes its sender an answer even when its params make no sense.
            detail = _describe_structure_error(exc)
            log.warning("malformed %s request %s: %s", data["method"], data["id"], detail)
            self._send_response(
                data["id"],
                error=types.ResponseError(
                    code=JsonRpcInvalidParams.CODE, message=f"malformed {data['method']} request: {detail}"
                ),
            )
            return _Answered()

    def handle_message(self, message: Any) -> None:
        if not isinstance(message, _Answered):
            super().handle_message(message)


def _describe_structure_error(exc: JsonRpcException) -> str:
    cause = exc.__cause__
    if isinstance(cause, cattrs.ClassValidationError):
        return "; ".join(cattrs.transform_error(cause))
    return str(cause or exc)


class ReporlmServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(wire.SERVER_NAME, __version__, protocol_cls=ReporlmProtocol)
        self.root: Path | None = None
        self.repo: Repo | None = None
        """Opened by `load`, after `initialize` was answered."""
        self.engine: ModuleType | None = None
        """reporlm.lsp.engine_side, once `load` imported it."""
        self.documents: dict[str, str] = {}
        """Open buffers by URI: the repository's overlay, read live at every call."""
        self.client_options: dict[str, Any] = {}
        self.settings: Settings | None = None
        self.server_options = client_options.ServerOptions()
        self.config_error: str | None = None
        """Why the last settings change was refused (the settings before it stay in force)."""
        self.workspace_error: str | None = None
        self.pool = SessionPool(self.server_options.max_runs)
        self.runs: dict[Any, RunControl] = {}
        self.cache: dict[tuple[str, str], str] = {}
        """Sub-call answers shared by all sessions: an unchanged module costs nothing twice."""
        self.index: dict[str, Any] = {"state": "loading"}
        self.log_handler: ClientLogHandler | None = None
        self.exited = asyncio.Event()
        """Set by the `exit` notification."""
        self.exit_code = 0
        self._tasks: set[asyncio.Future[Any]] = set()
        self._updates: set[asyncio.Future[Any]] = set()
        """Re-indexing after saves: a run waits for these, so it sees what was just saved."""
        self._loading: asyncio.Future[None] | None = None

    # -- configuration ---------------------------------------------------------------------------

    def open_workspace(self, params: types.InitializeParams) -> None:
        root = _workspace_root(params)
        if root is None:
            self.workspace_error = "no workspace folder: open a folder (the repository) first"
        elif not root.is_dir():
            self.workspace_error = f"not a folder: {root}"
        else:
            self.root = root.resolve()
        if params.workspace_folders and len(params.workspace_folders) > 1:
            log.warning("several workspace folders: reporlm answers about the first, %s", root)

    async def configure(self, raw: Mapping[str, Any] | None) -> None:
        """Apply client options; on an error keep what worked before and say why."""
        try:
            merged = client_options.merge(self.client_options, client_options.normalize(raw))
            overrides, server_options = client_options.split(merged)
            settings = load_settings(self.root, overrides=overrides)
            provider = resolve_provider(settings)
        except ConfigError as exc:
            # Keep what worked before (if anything did) and say why the change was refused.
            self.config_error = str(exc)
            log.error("settings not applied: %s", exc)
            self.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Error, message=f"reporlm: {exc}")
            )
            return
        self.client_options, self.settings, self.server_options = merged, settings, server_options
        self.config_error = None
        log.info("settings: provider %s, model %s", provider, settings.model or "(default)")
        if self.engine is not None:
            await self._apply_settings()

    async def _apply_settings(self) -> None:
        """New sessions for the current settings (runs going on finish with the ones they had)."""
        assert self.engine is not None and self.settings is not None and self.repo is not None
        setup = self.engine.make_setup(
            self.settings, resolve_provider(self.settings), self.server_options, self.repo, self.cache
        )
        await self.pool.configure(setup, self.server_options.max_runs)

    def start_loading(self) -> None:
        if self._loading is None:
            self._loading = self.run_task(self._load())

    async def loaded(self) -> tuple[ModuleType, Repo]:
        """The engine side and the repository, loading them now if `initialized` has not yet."""
        if self.root is None:
            raise wire.ConfigurationFailed(self.workspace_error or "the server is not initialized")
        self.start_loading()
        assert self._loading is not None
        await asyncio.shield(self._loading)
        if self.engine is None or self.repo is None:
            raise wire.ConfigurationFailed(self.workspace_error or "the repository could not be opened")
        if self.settings is None:
            raise wire.ConfigurationFailed(self.config_error or "the server is not configured")
        return self.engine, self.repo

    async def _load(self) -> None:
        """Import the engine, open the repository, then list it and build its symbol index."""
        root = self.root
        assert root is not None
        engine = await asyncio.to_thread(importlib.import_module, "reporlm.lsp.engine_side")
        try:
            repo = await asyncio.to_thread(engine.open_repo, root, self.documents)
        except ConfigError as exc:
            self.workspace_error = str(exc)
            self.index = {"state": "failed", "error": str(exc)}
            return
        self.engine, self.repo = engine, repo
        if self.settings is not None:
            await self._apply_settings()
        await self._index(engine, repo)

    # -- runs ------------------------------------------------------------------------------------

    async def run_command(
        self,
        title: str,
        message: str,
        start: Callable[[Session, dict[str, Any]], Awaitable[Any]],
        render: Callable[[Any, Locations], dict[str, Any]],
    ) -> dict[str, Any]:
        """Run one engine call for the current request, with progress, cancellation and error mapping."""
        engine, repo = await self.loaded()
        request_id = self.protocol.msg_id
        params = _COMMAND_PARAMS.get()
        control = RunControl(request_id)
        if request_id is not None:
            self.runs[request_id] = control
        try:
            if self._updates:
                await asyncio.wait(list(self._updates))
            async with self.pool.session() as session:
                progress = RunProgress(self, params.work_done_token if params else None, title)
                await progress.begin(message, control.cancel)
                if control.cancelled:
                    progress.end("cancelled")
                    raise JsonRpcRequestCancelled("cancelled before it started")
                ask_options: dict[str, Any] = {
                    "listeners": [progress],
                    "trace_file": new_trace_file(),
                    "partial_on_cancel": True,
                }
                control.task = asyncio.create_task(start(session, ask_options))
                try:
                    outcome = await control.task
                except asyncio.CancelledError:
                    progress.end("cancelled")
                    if control.cancelled and not _being_cancelled():
                        raise JsonRpcRequestCancelled("cancelled before it started") from None
                    raise
                except BaseException:
                    progress.end("failed")
                    raise
                run = getattr(outcome, "run", outcome)
                progress.end(f"partial ({run.reason})" if run.partial else "answered")
                return render(outcome, Locations(repo, self._encoding()))
        except JsonRpcException:
            raise
        except Exception as exc:
            error = engine.command_error(exc, self._clean)
            if error is None:
                raise
            raise error from None
        finally:
            self.runs.pop(request_id, None)

    def limits(self, budget: Mapping[str, Any] | None) -> Limits | None:
        """The settings' budget with the request's `budget` on top, or None when it sets nothing."""
        if not budget or self.settings is None:
            return None
        try:
            return load_settings(
                None, env={}, overrides={"limits": {**_limits_dict(self.settings.limits), **budget}}
            ).limits
        except ConfigError as exc:
            raise JsonRpcInvalidParams(f"budget: {exc}") from None

    async def position(self, uri: str, line: int, character: int) -> tuple[str, int, int]:
        """A client's position as (repo-relative path, 1-based line, 0-based character index)."""
        engine, repo = await self.loaded()
        path = engine.relative_path(repo, uri)
        text = await asyncio.to_thread(engine.line_text, repo, path, line + 1)
        return path, line + 1, column_of(text, character, self._encoding())

    def cancel_all(self) -> list[asyncio.Task[Any]]:
        tasks = []
        for control in list(self.runs.values()):
            control.cancel()
            if control.task is not None:
                tasks.append(control.task)
        return tasks

    async def aclose(self) -> None:
        """Stop every run and every sandbox worker; safe to call more than once."""
        tasks = self.cancel_all()
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT_SECONDS)
        await self.pool.close()
        for task in list(self._tasks):
            task.cancel()
        if self.repo is not None:
            await asyncio.to_thread(self.repo.close)

    # -- status and index ------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        settings = self.settings
        provider = model = sub_model = None
        if settings is not None:
            try:
                provider, model, sub_model = model_names(settings)
            except ConfigError as exc:
                self.config_error = self.config_error or str(exc)
        return {
            "server": {"name": wire.SERVER_NAME, "version": __version__},
            "repo": str(self.root) if self.root else None,
            "index": dict(self.index),
            "provider": provider,
            "model": model,
            "sub_model": sub_model,
            "budget": _limits_dict(settings.limits) if settings else None,
            "runs": {"active": self.pool.active, "max": self.pool.max_runs},
            "open_documents": len(self.documents),
            "api_key_set": bool(settings and settings.api_key),
            "configuration_error": self.config_error,
            "workspace_error": self.workspace_error,
        }

    async def _index(self, engine: ModuleType, repo: Repo) -> None:
        self.index = {"state": "loading"}
        try:
            summary = await asyncio.to_thread(repo.summary)
            listed = {"files": summary.file_count, "languages": summary.languages}
            self.index = {"state": "indexing", **listed}
            await asyncio.to_thread(repo.start_indexing)
            symbols = await asyncio.to_thread(engine.settled_index, repo)
        except Exception as exc:
            log.exception("indexing the repository failed")
            self.index = {**self.index, "state": "failed", "error": str(exc)}
            return
        self.index = {
            **self.index,
            "state": "ready" if symbols.state == "ready" else "failed",
            "symbols": {
                "state": symbols.state,
                "files": symbols.files,
                "indexed": symbols.indexed,
                "skipped": len(symbols.skipped),
                "seconds": symbols.seconds,
            },
        }
        log.info("indexed %s: %d files, %s", repo.root, summary.file_count, symbols)

    def files_changed(self, uris: list[str], *, deleted: bool = False) -> None:
        """Files saved or changed on disk: the listing and the symbol index follow."""
        repo, engine = self.repo, self.engine
        if repo is None or engine is None:
            return  # not loaded yet: the first listing will see them
        paths = [uri for uri in uris if uri.startswith("file:")]
        if deleted:
            self._updates.add(self.run_task(asyncio.to_thread(repo.refresh)))
        elif paths:
            self._updates.add(self.run_task(asyncio.to_thread(engine.update, repo, paths)))

    def run_task(self, coro: Awaitable[Any]) -> asyncio.Future[Any]:
        """A background task that is kept referenced and whose failure is logged."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Future[Any]) -> None:
            self._tasks.discard(t)
            self._updates.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task failed", exc_info=t.exception())

        task.add_done_callback(done)
        return task

    # -- helpers ---------------------------------------------------------------------------------

    def _encoding(self) -> str:
        try:
            encoding = self.workspace.position_encoding
        except RuntimeError:
            encoding = None
        return str(encoding or types.PositionEncodingKind.Utf16)

    def _clean(self, text: str) -> str:
        return redact(text, [self.settings.api_key if self.settings else None])


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return bool(task and task.cancelling())


def _limits_dict(limits: Limits) -> dict[str, Any]:
    return asdict(limits)


def _workspace_root(params: types.InitializeParams) -> Path | None:
    candidates = [f.uri for f in params.workspace_folders or []]
    candidates += [params.root_uri] if params.root_uri else []
    for uri in candidates:
        path = to_fs_path(uri)
        if path:
            return Path(path)
    return Path(params.root_path) if params.root_path else None


# -- handlers ------------------------------------------------------------------------------------


def make_server() -> ReporlmServer:
    server = ReporlmServer()

    @server.feature(types.INITIALIZE)
    async def initialize(ls: ReporlmServer, params: types.InitializeParams) -> None:
        ls.open_workspace(params)
        raw = params.initialization_options
        await ls.configure(raw if isinstance(raw, Mapping) else {})

    @server.feature(types.INITIALIZED)
    def initialized(ls: ReporlmServer, params: types.InitializedParams) -> None:
        if ls.root is not None:
            ls.start_loading()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: ReporlmServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, Mapping) and isinstance(settings.get(wire.CONFIGURATION_SECTION), Mapping):
            settings = settings[wire.CONFIGURATION_SECTION]
        if isinstance(settings, Mapping):
            await ls.configure(settings)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ReporlmServer, params: types.DidOpenTextDocumentParams) -> None:
        _keep_buffer(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ReporlmServer, params: types.DidChangeTextDocumentParams) -> None:
        _keep_buffer(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ReporlmServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.documents.pop(params.text_document.uri, None)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: ReporlmServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.files_changed([params.text_document.uri])

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: ReporlmServer, params: types.DidChangeWatchedFilesParams) -> None:
        gone = [c.uri for c in params.changes if c.type == types.FileChangeType.Deleted]
        ls.files_changed([c.uri for c in params.changes if c.type != types.FileChangeType.Deleted])
        if gone:
            ls.files_changed(gone, deleted=True)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: ReporlmServer, params: None) -> None:
        await ls.aclose()

    @server.command(wire.ASK)
    async def ask(ls: ReporlmServer, *args: Any) -> dict[str, Any]:
        a: AskArgs = parse_ask(args)
        limits = ls.limits(a.budget)

        async def start(session: Session, options: dict[str, Any]) -> Any:
            return await session.ask(a.question, scope=a.scope, limits=limits, **options)

        return await ls.run_command("reporlm: ask", a.question, start, answer_json)

    @server.command(wire.PLAN)
    async def plan(ls: ReporlmServer, *args: Any) -> dict[str, Any]:
        a: PlanArgs = parse_plan(args)
        limits = ls.limits(a.budget)

        async def start(session: Session, options: dict[str, Any]) -> Any:
            return await session.plan(a.goal, scope=a.scope, limits=limits, **options)

        return await ls.run_command("reporlm: plan", a.goal, start, plan_json)

    @server.command(wire.EXPLAIN)
    async def explain(ls: ReporlmServer, *args: Any) -> dict[str, Any]:
        a: ExplainArgs = parse_explain(args)
        limits = ls.limits(a.budget)
        path, line, column = await ls.position(a.uri, a.line, a.character)

        async def start(session: Session, options: dict[str, Any]) -> Any:
            return await session.explain(path, line, column, limits=limits, **options)

        return await ls.run_command("reporlm: explain", f"{path}:{line}", start, explain_json)

    @server.command(wire.STATUS)
    async def status(ls: ReporlmServer, *args: Any) -> dict[str, Any]:
        return ls.status()

    return server


def _keep_buffer(ls: ReporlmServer, uri: str) -> None:
    if not uri.startswith("file:"):
        return  # untitled buffers, diff views, output panes: not files of the repository
    ls.documents[uri] = ls.workspace.get_text_document(uri).source
