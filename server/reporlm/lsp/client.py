"""A headless LSP client: starts `reporlm serve` as a child process and runs commands on it.

This is how `reporlm ask` and `reporlm plan` work, so CI runs exactly the path an editor runs. The
child's stderr is the caller's stderr (server logs show up where the user looks); its stdin and
stdout carry the protocol.

The server must not outlive this process, however it ends (a CI timeout sends SIGKILL): it gets our
pid as the `initialize` processId and watches it, and its input ends when we are gone; on Linux the
kernel also kills it when we die (PR_SET_PDEATHSIG), which holds even if its event loop is stuck.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.io_ import run_async
from pygls.lsp.client import BaseLanguageClient
from pygls.protocol import JsonRPCNotification, default_converter

from reporlm import __version__
from reporlm.lsp import wire

log = logging.getLogger(__name__)

STOP_WAIT_SECONDS = 5.0

TraceListener = Callable[[dict[str, Any]], None]


class ServerFailed(Exception):
    """The server process could not be started, or stopped before it answered."""


def plain_converter() -> cattrs.Converter:
    """pygls's converter, except that params of notifications it has no type for stay plain dicts.

    (pygls turns them into namedtuples, which rename keys and cost a class per message.)
    """
    converter = default_converter()
    converter.register_structure_hook(JsonRPCNotification, lambda obj, cls: cls(**obj))
    return converter


class HeadlessClient(BaseLanguageClient):
    def __init__(self, on_trace: TraceListener | None = None) -> None:
        super().__init__("reporlm-headless", __version__, converter_factory=plain_converter)
        self.on_trace = on_trace
        self.process: asyncio.subprocess.Process | None = None
        self.messages: list[str] = []
        """`window/showMessage` texts (configuration errors the server reported)."""

        @self.feature(wire.TRACE)
        def trace(client: HeadlessClient, event: Any) -> None:
            if client.on_trace is not None and isinstance(event, Mapping):
                client.on_trace(dict(event))

        @self.feature(types.WINDOW_SHOW_MESSAGE)
        def show_message(client: HeadlessClient, params: types.ShowMessageParams) -> None:
            client.messages.append(params.message)

        # The server's logs already reach our stderr directly; these need no second copy.
        for method in (types.WINDOW_LOG_MESSAGE, types.PROGRESS):
            self.feature(method)(_ignore)

    @classmethod
    def server_command(cls, log_level: str = "warning") -> list[str]:
        # -P: `-m` would put the working directory (often the repository asked about) first on
        # sys.path, and a `platformdirs.py` there would run inside the server, keys in reach.
        return [sys.executable, "-P", "-m", "reporlm", "--log-level", log_level, "serve"]

    async def start(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=dict(env) if env is not None else None,
                # Its own process group: a Ctrl-C in the terminal reaches only us, and we stop the
                # run through the protocol (the partial answer still comes back).
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        except OSError as exc:
            raise ServerFailed(f"cannot start the language server ({' '.join(command)}): {exc}") from None
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self._server = process
        self.protocol.set_writer(process.stdin)  # type: ignore[arg-type]
        self._async_tasks.extend(
            [
                asyncio.create_task(
                    run_async(
                        stop_event=self._stop_event,
                        reader=process.stdout,
                        protocol=self.protocol,
                        logger=log,
                        error_handler=self.report_server_error,
                    )
                ),
                asyncio.create_task(self._server_exit()),
            ]
        )

    async def open(self, repo: Path, options: Mapping[str, Any]) -> types.InitializeResult:
        """`initialize` (with the repository as the workspace folder) and `initialized`."""
        uri = repo.resolve().as_uri()
        params = types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            process_id=os.getpid(),
            root_uri=uri,
            workspace_folders=[types.WorkspaceFolder(uri=uri, name=repo.resolve().name)],
            initialization_options=dict(options),
        )
        result = await self._request(types.INITIALIZE, params)
        self.initialized(types.InitializedParams())
        return result  # type: ignore[no-any-return]

    async def command(
        self, name: str, argument: Mapping[str, Any], *, request_id: str | None = None
    ) -> dict[str, Any]:
        """Run a server command; raises JsonRpcException with the server's error code."""
        params = types.ExecuteCommandParams(command=name, arguments=[dict(argument)])
        result = await self._request(types.WORKSPACE_EXECUTE_COMMAND, params, request_id=request_id)
        return dict(result or {})

    def cancel(self, request_id: str) -> None:
        """Ask the server to stop a run; it answers the request with the partial result."""
        self.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=request_id))

    @staticmethod
    def new_request_id() -> str:
        return f"reporlm-cli-{uuid.uuid4().hex[:8]}"

    async def close(self) -> None:
        """`shutdown` and `exit`, then wait for the process (killing it if it hangs)."""
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            try:
                await asyncio.wait_for(self._request(types.SHUTDOWN, None), STOP_WAIT_SECONDS)
                self.exit(None)
            except (TimeoutError, ServerFailed, JsonRpcException, ConnectionError) as exc:
                log.warning("the language server did not shut down cleanly: %s", exc)
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), STOP_WAIT_SECONDS)
            except TimeoutError:
                log.warning("the language server did not exit; killing it")
                process.kill()
                await process.wait()
        self._stop_event.set()
        for task in self._async_tasks:
            task.cancel()
        await asyncio.gather(*self._async_tasks, return_exceptions=True)

    async def _request(self, method: str, params: Any, *, request_id: str | None = None) -> Any:
        future = self.protocol.send_request_async(method, params, msg_id=request_id)
        try:
            return await future
        except RuntimeError as exc:  # pygls fails pending requests this way when the process exits
            raise ServerFailed(str(exc)) from None

    async def server_exit(self, server: asyncio.subprocess.Process) -> None:
        log.debug("language server %s exited with %s", server.pid, server.returncode)


def _ignore(client: HeadlessClient, params: Any) -> None:
    return None


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, what the child runs before it starts the server: the kernel sends it SIGKILL when
    the thread that started it ends (the CLI's event loop thread, which lives as long as the CLI).

    Everything is looked up here, before the fork: the child only makes one C call.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    args = (ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(signal.SIGKILL), *[ctypes.c_ulong(0)] * 3)
    getppid, leave = os.getppid, os._exit

    def set_death_signal() -> None:
        prctl(*args)
        if getppid() != parent:  # the parent died between the fork and the call: nobody would signal
            leave(1)

    return set_death_signal
