"""Server logs: to stderr, and to the client as `window/logMessage`, with secrets masked in both.

stdout belongs to the protocol: nothing else may ever be written there.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError

from reporlm.llm._errors import redact
from reporlm.terminal import PrintableFilter

_LEVELS = {
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
}


class SecretFilter(logging.Filter):
    """Masks the secrets it is given, and anything shaped like an API key, in every record."""

    def __init__(self, secrets: Callable[[], list[str | None]]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self._secrets())
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class ExpectedErrors(logging.Filter):
    """Drops pygls's traceback of an error that was answered to the client as what it is
    (bad arguments, busy, provider down): the client got the message, stderr needs no stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, JsonRpcException) or isinstance(error, JsonRpcInternalError)


class ClientLogHandler(logging.Handler):
    """Sends reporlm's records to the client; records from other threads go through the loop."""

    def __init__(self, notify: Callable[[types.LogMessageParams], None]) -> None:
        super().__init__(logging.INFO)
        self._notify = notify
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self._loop_thread = loop, threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        params = types.LogMessageParams(type=_LEVELS.get(record.levelno, types.MessageType.Log), message=text)
        if threading.get_ident() == self._loop_thread:
            self._notify(params)
        else:  # writes to the protocol stream happen on the loop only, never interleaved
            self._loop.call_soon_threadsafe(self._notify, params)


def setup(
    level: str, notify: Callable[[types.LogMessageParams], None], secrets: Callable[[], list[str | None]]
) -> ClientLogHandler:
    """stderr at `level`; reporlm's records at INFO and up also to the client through `notify`.

    Returns the client handler: `bind` it to the event loop once one runs.
    """
    masking = SecretFilter(secrets)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(level.upper())
    stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    stderr.addFilter(masking)
    stderr.addFilter(PrintableFilter())  # stderr is often a terminal: a file name may hold escapes
    root = logging.getLogger()
    root.handlers[:] = [stderr]
    root.setLevel(level.upper())
    # pygls logs every message body at INFO: only a debugging session wants that.
    logging.getLogger("pygls").setLevel(logging.DEBUG if level.lower() == "debug" else logging.WARNING)
    logging.getLogger("pygls.protocol.json_rpc").addFilter(ExpectedErrors())
    client = ClientLogHandler(notify)
    client.addFilter(masking)
    client.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    ours = logging.getLogger("reporlm")
    ours.setLevel(min(logging.INFO, logging.getLevelName(level.upper())))
    ours.addHandler(client)
    return client
