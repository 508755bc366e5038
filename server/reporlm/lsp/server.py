"""The reporlm language server: the engine behind `workspace/executeCommand`, over stdio or TCP.

Startup answers `initialize` at once and lists the repository in the background. Each workspace
folder is a repository of its own, opened when first needed (see reporlm.lsp.folders); commands
say which folder they are about. Each ask, plan or explain runs as its own asyncio task with its
own engine session (and sandbox worker), so the protocol loop keeps serving while runs go;
`$/cancelRequest` and a progress cancel stop that task, and the request is answered with the
partial result. Open documents form the overlay the repositories read, so the engine sees unsaved
buffers.

pygls 2.1.1 answers `$/cancelRequest` for a command itself, with an error, and lets the handler run
on: the protocol (reporlm.lsp.pygls_compat, with every other departure from pygls) routes cancels
of our runs to the run instead, so the run stops and the client gets the partial answer (LSP
allows partial results on cancel).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcRequestCancelled,
)

from reporlm import __version__
from reporlm.app import model_names, resolve_provider
from reporlm.config import ConfigError, check_cost_cap, load_settings
from reporlm.engine.budget import Limits
from reporlm.llm._errors import redact
from reporlm.lsp import options as client_options
from reporlm.lsp import wire
from reporlm.lsp.arguments import (
    AskArgs,
    ExplainArgs,
    PlanArgs,
    StatusArgs,
    parse_ask,
    parse_explain,
    parse_plan,
    parse_status,
)
from reporlm.lsp.folders import NO_FOLDER, Folder, FolderIndex, Folders, initial_folders, path_of
from reporlm.lsp.logs import ClientLogHandler
from reporlm.lsp.progress import RunProgress
from reporlm.lsp.pygls_compat import COMMAND_PARAMS, CompatLanguageServer, ReporlmProtocol
from reporlm.lsp.results import Locations, answer_json, column_of, explain_json, plan_json
from reporlm.lsp.runs import RunCap, RunControl
from reporlm.lsp.traces import new_trace_file

if TYPE_CHECKING:
    from reporlm.engine.session import Session
    from reporlm.lsp.engine_side import EngineSide
    from reporlm.lsp.remote import NetworkClient
    from reporlm.lsp.watchdog import Watchdog
    from reporlm.workspace import Repo
    from reporlm.workspace.index import IndexStatus

log = logging.getLogger(__name__)

SHUTDOWN_WAIT_SECONDS = 5.0


class ReporlmServer(CompatLanguageServer):
    protocol: ReporlmProtocol

    def __init__(self) -> None:
        super().__init__(wire.SERVER_NAME, __version__, protocol_cls=ReporlmProtocol)
        self.folders = Folders()
        """The workspace folders, each with its repository (opened by `load`, on first use)."""
        self.engine: EngineSide | None = None
        """The engine side (lsp/engine_side.py), once the first folder's `load` imported it."""
        self.documents: dict[str, str] = {}
        """Open buffers by URI: every repository's overlay (each reads its own), read live at every call."""
        self.client_options: dict[str, Any] = {}
        self.server_options = client_options.ServerOptions()
        self.config_error: str | None = None
        """Why the last settings change was refused (the settings before it stay in force)."""
        self.workspace_error: str | None = None
        """Why there is no folder at all."""
        self.network: NetworkClient | None = None
        """Set when the client came over the network (`serve --tcp`): what it may not set or open."""
        self.cap = RunCap(self.server_options.max_runs)
        self.runs: dict[Any, RunControl] = {}
        self.log_handler: ClientLogHandler | None = None
        self.exited = asyncio.Event()
        """Set by the `exit` notification."""
        self.exit_code = 0
        self.watchdog: Watchdog | None = None
        """Set when serving: ends the process once the client is gone (see reporlm.lsp.watchdog)."""
        self.initialized = False
        self._overrides: dict[str, Any] = {}
        self._secrets: set[str] = set()
        """Every API key any folder's settings held: kept out of whatever goes to the client."""
        self._closing: dict[str, asyncio.Future[None]] = {}
        """Folders being closed, by root: the same folder added again opens once they are."""
        self._tasks: set[asyncio.Future[Any]] = set()

    def client_gone(self, reason: str) -> None:
        """Nobody is listening any more: stop as on `exit` without `shutdown` (exit code 1)."""
        if not self.exited.is_set():
            log.info("%s: stopping every run", reason)
            self.exit_code = 1
            self.exited.set()

    # -- configuration ---------------------------------------------------------------------------

    def open_workspace(self, params: types.InitializeParams) -> None:
        found = initial_folders(params)
        if self.network is not None:  # a network client: only the folders the server was started with
            refused = [why for uri, _, path in found if (why := self.network.folder_refusal(uri, path))]
            if refused:
                raise JsonRpcInvalidParams("; ".join(refused))
        for uri, name, path in found:
            self.folders.add(Folder(uri, name, path, self.cap))
        if not self.folders:
            self.workspace_error = NO_FOLDER
        elif len(self.folders) > 1:
            log.info("%d workspace folders: each opens when a command first needs it", len(self.folders))

    async def configure(self, raw: Mapping[str, Any] | None) -> None:
        """Apply client options; on an error keep what worked before and say why."""
        try:
            changed = client_options.normalize(raw)
            if self.network is not None:
                self.network.check_options(changed)
            merged = client_options.merge(self.client_options, changed)
            overrides, server_options = client_options.split(merged)
            # The options alone, before any folder's settings file is read: a change that cannot
            # work anywhere is refused as a whole.
            plain = load_settings(None, overrides=overrides)
            resolve_provider(plain)
        except ConfigError as exc:
            self.config_error = str(exc)
            self._refuse(exc)
            return
        self.client_options, self.server_options, self._overrides = merged, server_options, overrides
        self.cap.max_runs = server_options.max_runs
        self.config_error = None
        if plain.api_key:
            self._secrets.add(plain.api_key)
        for folder in self.folders:
            await self._configure(folder)

    async def _configure(self, folder: Folder) -> None:
        """The folder's settings: its settings file under the client's options."""
        if folder.root is None or folder.closed:
            return
        try:
            settings = load_settings(folder.root, overrides=self._overrides)
            provider = resolve_provider(settings)
        except ConfigError as exc:  # its settings file: the settings before stay, if any
            folder.config_error = str(exc)
            self._refuse(exc)
            return
        folder.settings, folder.config_error = settings, None
        if settings.api_key:
            self._secrets.add(settings.api_key)
        model = settings.model or "(default)"
        log.info("settings for %s: provider %s, model %s", folder.root, provider, model)
        if folder.repo is not None:
            await self._apply_settings(folder)

    def _refuse(self, exc: ConfigError) -> None:
        log.error("settings not applied: %s", exc)
        message = types.ShowMessageParams(type=types.MessageType.Error, message=f"reporlm: {exc}")
        self.window_show_message(message)

    async def _apply_settings(self, folder: Folder) -> None:
        """New sessions for the current settings (runs going on finish with the ones they had)."""
        assert self.engine is not None and folder.settings is not None and folder.repo is not None
        folder.cache.resize(folder.settings.subcall_cache_mb)
        setup = self.engine.make_setup(
            folder.settings, resolve_provider(folder.settings), self.server_options, folder.repo, folder.cache
        )
        await folder.pool.configure(setup)

    # -- workspace folders -----------------------------------------------------------------------

    async def change_folders(
        self, added: Sequence[types.WorkspaceFolder], removed: Sequence[types.WorkspaceFolder]
    ) -> None:
        """Removed folders close in the background (their runs stop); added ones open on first use."""
        for gone in removed:
            folder = self.folders.remove(gone.uri)
            if folder is None:
                log.warning("workspace folder removed that was never added: %s", gone.uri)
                continue
            log.info("workspace folder removed: %s", folder.label)
            closing = self.close_folder(folder)
            if folder.root is not None:
                self._closing[str(folder.root)] = closing
                closing.add_done_callback(self._closed)
        for new in added:
            if self.network is not None and (why := self.network.folder_refusal(new.uri, path_of(new.uri))):
                self._refuse(ConfigError(why))
                continue
            folder = Folder(new.uri, new.name, path_of(new.uri), self.cap)
            if not self.folders.add(folder):
                log.info("workspace folder added twice: %s", new.uri)
                continue
            log.info("workspace folder added: %s", folder.label)
            await self._configure(folder)
        self.workspace_error = None if self.folders else NO_FOLDER
        self.open_first()

    def open_first(self) -> None:
        """The first folder opens as soon as the client is ready; the others when first needed."""
        first = self.folders.first
        if self.initialized and first is not None and first.root is not None:
            self.start_loading(first)

    def _closed(self, closing: asyncio.Future[None]) -> None:
        for key, future in list(self._closing.items()):
            if future is closing:
                del self._closing[key]

    def close_folder(self, folder: Folder) -> asyncio.Future[None]:
        """Stop the folder's runs, sessions and index; the same future on every call."""
        if folder.closing is None:
            folder.closing = self.run_task(self._close(folder))
        return folder.closing

    async def _close(self, folder: Folder) -> None:
        folder.stop.set()
        for control in list(folder.runs):
            control.cancel()  # each run answers its request with what it has
        handlers = [t for t in folder.runs.values() if t is not None and not t.done()]
        if handlers:
            await asyncio.wait(handlers, timeout=SHUTDOWN_WAIT_SECONDS)
        await folder.pool.close()
        pending = [f for f in (folder.loading, *folder.updates) if f is not None and not f.done()]
        if pending:
            # Loading and re-indexing run in threads, which end soon once `stop` is set; only then
            # may the repository close (a closed one asked again would open a new index).
            await asyncio.wait(pending)
        if folder.repo is not None:
            await asyncio.to_thread(folder.repo.close)
        folder.index = replace(folder.index, state="closed")

    # -- loading ---------------------------------------------------------------------------------

    def start_loading(self, folder: Folder) -> None:
        if folder.loading is None and not folder.closed:
            folder.loading = self.run_task(self._load(folder))

    async def loaded(self, folder: Folder) -> tuple[EngineSide, Repo]:
        """The engine side and the folder's repository, opening it now if nothing has yet."""
        if folder.root is None:
            raise wire.ConfigurationFailed(folder.workspace_error or "the server is not initialized")
        self.start_loading(folder)
        if folder.loading is not None:
            await asyncio.shield(folder.loading)
        if folder.closed:
            raise wire.ConfigurationFailed(f"the workspace folder {folder.label} was removed")
        if self.engine is None or folder.repo is None:
            raise wire.ConfigurationFailed(folder.workspace_error or "the repository could not be opened")
        if folder.settings is None:
            raise wire.ConfigurationFailed(
                folder.config_error or self.config_error or "the server is not configured"
            )
        return self.engine, folder.repo

    async def _load(self, folder: Folder) -> None:
        """Import the engine, open the repository, then list it and build its symbol index."""
        root = folder.root
        assert root is not None
        folder.index = FolderIndex("loading")
        before = self._closing.get(str(root))
        if before is not None:  # the same folder, removed a moment ago, is still closing
            await asyncio.shield(before)
        engine = await asyncio.to_thread(_import_engine)
        self.engine = engine
        try:
            repo = await asyncio.to_thread(engine.open_repo, root, self.documents)
        except ConfigError as exc:
            folder.workspace_error = str(exc)
            folder.index = FolderIndex("failed", error=str(exc))
            return
        folder.repo = repo
        if folder.closed:
            return  # removed while it opened; closing it closes the repository
        if folder.settings is not None:
            await self._apply_settings(folder)
        await self._index(folder, engine, repo)

    async def _index(self, folder: Folder, engine: EngineSide, repo: Repo) -> None:
        folder.index = FolderIndex("loading")
        try:
            summary = await asyncio.to_thread(repo.summary)
            listed = FolderIndex("indexing", files=summary.file_count, languages=summary.languages)
            folder.index = listed
            await asyncio.to_thread(repo.start_indexing)

            def progress(status: IndexStatus) -> None:
                # From the indexing thread: the record is replaced whole, never changed in place.
                if status.to_parse:
                    folder.index = replace(listed, parsed=status.parsed, to_parse=status.to_parse)

            symbols = await asyncio.to_thread(engine.settled_index, repo, folder.stop, progress)
        except Exception as exc:
            log.exception("indexing the repository failed")
            folder.index = replace(folder.index, state="failed", error=str(exc))
            return
        if symbols is None:
            return  # the folder was closed first
        folder.index = replace(
            listed,
            state="ready" if symbols.state == "ready" else "failed",
            symbols={
                "state": symbols.state,
                "files": symbols.files,
                "indexed": symbols.indexed,
                "skipped": len(symbols.skipped),
                "seconds": symbols.seconds,
            },
        )
        log.info("indexed %s: %d files, %s", repo.root, summary.file_count, symbols)

    def files_changed(self, uris: list[str], *, deleted: bool = False) -> None:
        """Files saved or changed on disk: the listing and symbol index of each folder holding them follow.

        When folders nest, a file is in both, and both follow; otherwise it is one folder's alone.
        """
        engine = self.engine
        paths = [uri for uri in uris if uri.startswith("file:")]
        for folder in self.folders:
            repo = folder.repo
            if repo is None or engine is None or folder.closed:
                continue  # not opened yet: its first listing will see them
            mine = [uri for uri in paths if folder.holds(uri)]
            if not mine:
                continue
            if deleted:
                folder.add_update(self.run_task(asyncio.to_thread(repo.refresh)))
            else:
                folder.add_update(self.run_task(asyncio.to_thread(engine.update, repo, mine)))

    # -- runs ------------------------------------------------------------------------------------

    async def run_command(
        self,
        folder: Folder,
        title: str,
        message: str,
        start: Callable[[Session, dict[str, Any]], Awaitable[Any]],
        render: Callable[[Any, Locations], dict[str, Any]],
    ) -> dict[str, Any]:
        """Run one engine call for the current request, with progress, cancellation and error mapping."""
        request_id = self.protocol.msg_id
        params = COMMAND_PARAMS.get()
        control = RunControl(request_id)
        if request_id is not None:
            self.runs[request_id] = control
        folder.runs[control] = asyncio.current_task()
        try:
            _, repo = await self.loaded(folder)
            if folder.updates:
                await asyncio.wait(list(folder.updates))
            async with folder.pool.session() as session:
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
                return {**render(outcome, Locations(repo, self._encoding())), "folder": folder.uri}
        except JsonRpcException:
            raise
        except Exception as exc:
            error = self.engine.command_error(exc, self._clean) if self.engine is not None else None
            if error is None:
                raise
            raise error from None
        finally:
            self.runs.pop(request_id, None)
            folder.runs.pop(control, None)

    def limits(self, folder: Folder, budget: Mapping[str, Any] | None) -> Limits | None:
        """The folder's budget with the request's `budget` on top, or None when it sets nothing."""
        if not budget or folder.settings is None:
            return None
        try:
            limits = load_settings(
                None, env={}, overrides={"limits": {**_limits_dict(folder.settings.limits), **budget}}
            ).limits
            # The request's dollar cap must hold for the folder's models, as one set anywhere else.
            asked = "max_cost_usd" in budget
            check_cost_cap(replace(folder.settings, limits=limits), os.environ, asked=asked)
        except ConfigError as exc:
            raise JsonRpcInvalidParams(f"budget: {exc}") from None
        return limits

    async def position(self, folder: Folder, uri: str, line: int, character: int) -> tuple[str, int, int]:
        """A client's position as (repo-relative path, 1-based line, 0-based character index)."""
        engine, repo = await self.loaded(folder)
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
        """Stop every run, sandbox worker and index of every folder; safe to call more than once."""
        tasks = self.cancel_all()
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT_SECONDS)
        closing = [self.close_folder(folder) for folder in self.folders] + list(self._closing.values())
        if closing:
            await asyncio.wait(closing)
        for task in list(self._tasks):
            task.cancel()

    # -- status ----------------------------------------------------------------------------------

    def status(self, folder: Folder | None = None) -> dict[str, Any]:
        """The server, and the folder asked about (else the first) at the top; every folder below."""
        shown = folder or self.folders.first
        folders = [self._folder_status(f) for f in self.folders]
        top = next((f for f in folders if shown is not None and f["uri"] == shown.uri), {})
        return {
            "server": {"name": wire.SERVER_NAME, "version": __version__},
            "repo": top.get("repo"),
            "index": top.get("index", {"state": "failed", "error": self.workspace_error}),
            "provider": top.get("provider"),
            "model": top.get("model"),
            "sub_model": top.get("sub_model"),
            "budget": top.get("budget"),
            "runs": {"active": self.cap.active, "max": self.cap.max_runs},
            "open_documents": len(self.documents),
            "api_key_set": top.get("api_key_set", False),
            "configuration_error": self.config_error or top.get("configuration_error"),
            "workspace_error": top.get("workspace_error", self.workspace_error),
            "folder": shown.uri if shown else None,
            "folders": folders,
        }

    def _folder_status(self, folder: Folder) -> dict[str, Any]:
        settings = folder.settings
        provider = model = sub_model = None
        if settings is not None:
            try:
                provider, model, sub_model = model_names(settings)
            except ConfigError as exc:
                folder.config_error = folder.config_error or str(exc)
        return {
            "uri": folder.uri,
            "name": folder.name,
            "repo": str(folder.root) if folder.root else None,
            "index": folder.index.to_json(),
            "provider": provider,
            "model": model,
            "sub_model": sub_model,
            "budget": _limits_dict(settings.limits) if settings else None,
            "runs": {"active": folder.pool.active},
            "subcall_cache": {
                "answers": len(folder.cache),
                "size_mb": round(folder.cache.size / 1024 / 1024, 4),
                "max_mb": round(folder.cache.max_bytes / 1024 / 1024, 4),
            },
            "api_key_set": bool(settings and settings.api_key),
            "configuration_error": folder.config_error,
            "workspace_error": folder.workspace_error,
        }

    # -- helpers ---------------------------------------------------------------------------------

    def run_task(self, coro: Awaitable[Any]) -> asyncio.Future[Any]:
        """A background task that is kept referenced and whose failure is logged."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Future[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task failed", exc_info=t.exception())

        task.add_done_callback(done)
        return task

    def secrets(self) -> list[str | None]:
        """The API keys in use: redacted from logs and error messages."""
        return list(self._secrets)

    def _encoding(self) -> str:
        try:
            encoding = self.workspace.position_encoding
        except RuntimeError:
            encoding = None
        return str(encoding or types.PositionEncodingKind.Utf16)

    def _clean(self, text: str) -> str:
        return redact(text, self.secrets())


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return bool(task and task.cancelling())


def _limits_dict(limits: Limits) -> dict[str, Any]:
    return asdict(limits)


# -- handlers ------------------------------------------------------------------------------------


def make_server() -> ReporlmServer:
    server = ReporlmServer()

    @server.feature(types.INITIALIZE)
    async def initialize(ls: ReporlmServer, params: types.InitializeParams) -> None:
        if ls.watchdog is not None:
            ls.watchdog.watch(params.process_id)
        ls.open_workspace(params)
        raw = params.initialization_options
        await ls.configure(raw if isinstance(raw, Mapping) else {})

    @server.feature(types.INITIALIZED)
    def initialized(ls: ReporlmServer, params: types.InitializedParams) -> None:
        ls.initialized = True
        ls.open_first()

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def did_change_workspace_folders(
        ls: ReporlmServer, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        await ls.change_folders(params.event.added, params.event.removed)

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
        return await _run_text(ls, a, "reporlm: ask", a.question, lambda s: s.ask, answer_json)

    @server.command(wire.PLAN)
    async def plan(ls: ReporlmServer, *args: Any) -> dict[str, Any]:
        a: PlanArgs = parse_plan(args)
        return await _run_text(ls, a, "reporlm: plan", a.goal, lambda s: s.plan, plan_json)

    @server.command(wire.EXPLAIN)
    async def explain(ls: ReporlmServer, *args: Any) -> dict[str, Any]:
        a: ExplainArgs = parse_explain(args)
        folder = ls.folders.pick(a.folder, document=a.uri)
        limits = ls.limits(folder, a.budget)
        path, line, column = await ls.position(folder, a.uri, a.line, a.character)

        async def start(session: Session, options: dict[str, Any]) -> Any:
            return await session.explain(path, line, column, limits=limits, **options)

        return await ls.run_command(folder, "reporlm: explain", f"{path}:{line}", start, explain_json)

    @server.command(wire.STATUS)
    async def status(ls: ReporlmServer, *args: Any) -> dict[str, Any]:
        a: StatusArgs = parse_status(args)
        return ls.status(ls.folders.pick(a.folder) if a.folder is not None else None)

    return server


async def _run_text(
    ls: ReporlmServer,
    a: AskArgs | PlanArgs,
    title: str,
    text: str,
    method: Callable[[Session], Callable[..., Awaitable[Any]]],
    render: Callable[[Any, Locations], dict[str, Any]],
) -> dict[str, Any]:
    """`ask` and `plan`: the session's ``method`` on the command's text, in its folder and scope."""
    folder = ls.folders.pick(a.folder)
    limits = ls.limits(folder, a.budget)

    async def start(session: Session, options: dict[str, Any]) -> Any:
        return await method(session)(text, scope=a.scope, limits=limits, **options)

    return await ls.run_command(folder, title, text, start, render)


def _keep_buffer(ls: ReporlmServer, uri: str) -> None:
    if not uri.startswith("file:"):
        return  # untitled buffers, diff views, output panes: not files of the repository
    ls.documents[uri] = ls.workspace.get_text_document(uri).source


def _import_engine() -> EngineSide:
    """The engine side, imported at first use: its modules take a few hundred milliseconds."""
    from reporlm.lsp.engine_side import ENGINE

    return ENGINE
