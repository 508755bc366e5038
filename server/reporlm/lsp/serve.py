"""`reporlm serve`: run the language server over stdio (what editors and the CLI use) or TCP.

Over TCP a client must present the token the server wrote for it, and is held to what a network
client may do (see reporlm.lsp.remote).

Over stdio the protocol owns file descriptor 1: it is moved aside for the protocol, and fd 1 is
pointed at stderr, so a stray print or a C library's output can never corrupt the stream.

The server stops on the `exit` notification (exit code 0 after `shutdown`, else 1, as LSP says) or
when the client goes away (end of input, or over stdio the death of the `initialize` processId);
either way every run is stopped and every sandbox worker killed first, and over stdio a watchdog
thread makes sure of it within seconds even when the event loop is busy (reporlm.lsp.watchdog).
Frames are read by reporlm.lsp.framing, which bounds them and resynchronises after garbage.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import BinaryIO, NoReturn

from lsprotocol import types
from pygls.io_ import StdoutWriter

from reporlm.lsp import logs, remote
from reporlm.lsp.framing import StdinSource, StreamSource, read_messages
from reporlm.lsp.server import ReporlmServer, make_server
from reporlm.lsp.watchdog import Watchdog

log = logging.getLogger(__name__)


def serve_stdio(level: str = "warning") -> NoReturn:
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    server = _server(level)
    code = _run(_serve_stdio(server, sys.stdin.buffer, protocol_out))
    # The stdin reader thread may still block on a pipe the client keeps open after `exit`; the
    # interpreter would wait for it forever. Every session is closed by now: leave at once.
    logs.flush_counts()
    logging.shutdown()
    os._exit(code)


def serve_tcp(
    host: str,
    port: int,
    level: str = "warning",
    *,
    folders: Sequence[str | Path] = (),
    token_file: Path | None = None,
) -> int:
    """Serve one client over TCP: it must present the token (see lsp.remote) and may only open
    `folders` (the current folder when none is given)."""
    server = _server(level)
    server.network = remote.NetworkClient(remote.served_folders(folders))
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("listening on %s, beyond this machine: the token is all that keeps others out", host)
    return _run(_serve_tcp(server, host, port, remote.Gate(token_file)))


def _server(level: str) -> ReporlmServer:
    server = make_server()

    def notify(params: types.LogMessageParams) -> None:
        if server.protocol.writer is not None:  # over TCP, no client may be connected yet
            server.window_log_message(params)

    server.log_handler = logs.setup(level, notify=notify, secrets=server.secrets)
    return server


def _run(main: Awaitable[int]) -> int:
    try:
        return asyncio.run(main)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        return 130


async def _until_exit(server: ReporlmServer, reading: Awaitable[None]) -> int:
    """Serve until `exit` or the end of input; stop everything; the process's exit code."""
    assert server.log_handler is not None
    server.log_handler.bind(asyncio.get_running_loop())
    reader = asyncio.ensure_future(reading)
    exited = asyncio.ensure_future(server.exited.wait())
    try:
        await asyncio.wait({reader, exited}, return_when=asyncio.FIRST_COMPLETED)
        if reader.done() and not exited.done():
            failed = None if reader.cancelled() else reader.exception()
            if failed is not None:
                log.error("reading the client's messages failed", exc_info=failed)
            else:
                log.info("the client closed the connection")
            # As LSP says of `exit`: 0 only after a shutdown, and never when reading failed.
            server.exit_code = 0 if failed is None and server.protocol.shutdown_received else 1
    finally:
        server._stop_event.set()  # type: ignore[union-attr]
        for task in (reader, exited):
            task.cancel()
        await server.aclose()
    return server.exit_code


async def _serve_stdio(server: ReporlmServer, stdin: BinaryIO, stdout: BinaryIO) -> int:
    server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))
    server.watchdog = watchdog = _watchdog(server, stdin.fileno())
    watchdog.start()
    source = StdinSource(stdin, on_data=watchdog.input_read, on_end=watchdog.input_ended)
    reading = read_messages(source, server.protocol.receive, server._stop_event)
    return await _until_exit(server, reading)


def _watchdog(server: ReporlmServer, input_fd: int) -> Watchdog:
    loop = asyncio.get_running_loop()
    return Watchdog(
        stop=lambda reason: loop.call_soon_threadsafe(server.client_gone, reason),
        exit_code=lambda: server.exit_code if server.exited.is_set() else 1,
        input_fd=input_fd,
        before_exit=logs.flush_counts,
    )


async def _serve_tcp(server: ReporlmServer, host: str, port: int, gate: remote.Gate) -> int:
    server._stop_event = threading.Event()
    connected = asyncio.get_running_loop().create_future()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        admitted = await gate.admit(reader, writer.get_extra_info("peername"))
        if admitted is None:  # no reply: an unauthenticated peer learns nothing
            writer.close()
            return
        if connected.done():
            log.warning("refusing a second connection: this server serves one client")
            writer.close()
            return
        server.protocol.set_writer(writer)  # type: ignore[arg-type]
        connected.set_result(admitted)

    listener = await asyncio.start_server(connection, host, port)
    addresses = ", ".join(str(s.getsockname()) for s in listener.sockets)
    token = gate.publish(listener.sockets[0].getsockname()[1])
    log.warning("reporlm language server listening on %s", addresses)
    log.warning("clients authenticate with the token in %s (initializationOptions.token)", token)
    try:
        async with listener:
            reader = await connected
            reading = read_messages(StreamSource(reader), server.protocol.receive, server._stop_event)
            return await _until_exit(server, reading)
    finally:
        gate.close()
