"""`reporlm serve`: run the language server over stdio (what editors and the CLI use) or TCP.

Over stdio the protocol owns file descriptor 1: it is moved aside for the protocol, and fd 1 is
pointed at stderr, so a stray print or a C library's output can never corrupt the stream.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from typing import BinaryIO, NoReturn

from lsprotocol import types
from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async

from reporlm.lsp import logs
from reporlm.lsp.server import ReporlmServer, make_server

log = logging.getLogger(__name__)


def serve_stdio(level: str = "warning") -> NoReturn:
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    server = _server(level)
    code = _run(server, _serve_stdio(server, sys.stdin.buffer, protocol_out))
    # The stdin reader thread may still block on a pipe the client keeps open after `exit`; the
    # interpreter would wait for it forever. Every session is closed by now: leave at once.
    logging.shutdown()
    os._exit(code)


def serve_tcp(host: str, port: int, level: str = "warning") -> int:
    server = _server(level)
    return _run(server, _serve_tcp(server, host, port))


def _server(level: str) -> ReporlmServer:
    server = make_server()

    def notify(params: types.LogMessageParams) -> None:
        if server.protocol.writer is not None:  # over TCP, no client may be connected yet
            server.window_log_message(params)

    server.log_handler = logs.setup(
        level, notify=notify, secrets=lambda: [server.settings.api_key if server.settings else None]
    )
    return server


def _run(server: ReporlmServer, main: object) -> int:
    try:
        asyncio.run(main)  # type: ignore[arg-type]
    except SystemExit as done:  # the `exit` notification
        return int(done.code or 0)
    except KeyboardInterrupt:
        return 130
    return 0


async def _serve_stdio(server: ReporlmServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    assert server.log_handler is not None
    server.log_handler.bind(asyncio.get_running_loop())
    stop = threading.Event()
    server._stop_event = stop
    server.protocol.set_writer(StdoutWriter(stdout))
    try:
        await run_async(
            stop_event=stop,
            reader=StdinAsyncReader(stdin, server.thread_pool),
            protocol=server.protocol,
            logger=log,
            error_handler=server.report_server_error,
        )
        log.info("the client closed the connection")
    finally:
        await server.aclose()


async def _serve_tcp(server: ReporlmServer, host: str, port: int) -> None:
    assert server.log_handler is not None
    server.log_handler.bind(asyncio.get_running_loop())
    stop = threading.Event()
    server._stop_event = stop
    done = asyncio.Event()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if server.protocol.writer is not None:
            log.warning("refusing a second connection: this server serves one client")
            writer.close()
            return
        server.protocol.set_writer(writer)  # type: ignore[arg-type]
        try:
            await run_async(
                stop_event=stop,
                reader=reader,
                protocol=server.protocol,
                logger=log,
                error_handler=server.report_server_error,
            )
        finally:
            done.set()

    listener = await asyncio.start_server(connection, host, port)
    addresses = ", ".join(str(s.getsockname()) for s in listener.sockets)
    log.warning("reporlm language server listening on %s", addresses)
    try:
        async with listener:
            await done.wait()
    finally:
        await server.aclose()
