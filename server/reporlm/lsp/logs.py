"""Server logs: to stderr, and to the client as `window/logMessage`, with secrets masked in both.

stdout belongs to the protocol: nothing else may ever be written there. A client can make the
server log as fast as it can send (every malformed message is a warning), so the same line is
let through a few times per window and then counted, with one summary line when the window ends;
the client's copy is one short line, without the traceback stderr keeps.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError

from reporlm.llm._errors import redact, short
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


@dataclass
class _Window:
    start: float
    passed: int = 0
    held: int = 0
    example: str = ""
    """The first line held back, as an example in the summary."""


class Throttle(logging.Filter):
    """Lets each line (logger and message template) through `burst` times per `window` seconds and
    counts the rest; the count is logged when the window ends. One instance serves every handler:
    a record is decided once, so stderr and the client see the same lines."""

    def __init__(
        self, burst: int = 5, window: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.burst, self.window, self._clock = burst, window, clock
        self._windows: dict[tuple[str, int, str], _Window] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        decided = getattr(record, "_reporlm_throttle", None)
        if decided is None:
            decided = self._decide(record)
            record._reporlm_throttle = decided
        return bool(decided)

    def _decide(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO or getattr(record, "_reporlm_summary", False):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        over: list[tuple[tuple[str, int, str], _Window]] = []
        with self._lock:
            window = self._windows.get(key)
            if window is None or now - window.start >= self.window:
                if window is not None and window.held:
                    over.append((key, window))
                window = self._windows[key] = _Window(now)
                if len(self._windows) > 1000:  # many distinct lines: forget the quiet ones
                    self._forget_quiet(now)
            passed = window.passed < self.burst
            if passed:
                window.passed += 1
            else:
                window.held += 1
                if not window.example:
                    window.example = record.getMessage()
                self._arm()
        self._summarize(over)  # outside the lock: these go through the handlers, and this filter
        return passed

    def flush(self, *, everything: bool = False) -> None:
        """Log the counts of the windows that are over, or of all (`everything`, before exiting).
        A timer calls this while lines are held."""
        now = self._clock()
        over: list[tuple[tuple[str, int, str], _Window]] = []
        with self._lock:
            self._timer = None
            for key, window in list(self._windows.items()):
                if window.held and (everything or now - window.start >= self.window):
                    over.append((key, window))
                    del self._windows[key]
            if any(w.held for w in self._windows.values()):
                self._arm()
        self._summarize(over)

    def _arm(self) -> None:
        if self._timer is None:
            self._timer = threading.Timer(self.window, self.flush)
            self._timer.daemon = True
            self._timer.start()

    def _summarize(self, over: list[tuple[tuple[str, int, str], _Window]]) -> None:
        now = self._clock()
        for (name, level, _), window in over:
            logging.getLogger(name).log(
                level,
                "%d more like this in the last %.0f s: %s",
                window.held,
                min(now - window.start, self.window),
                short(window.example, 160),
                extra={"_reporlm_summary": True},
            )

    def _forget_quiet(self, now: float) -> None:
        for key, window in list(self._windows.items()):
            if not window.held and now - window.start >= self.window:
                del self._windows[key]


class OneLine(logging.Formatter):
    """The client's copy of a record: one line, at most `limit` characters, the exception named
    but not its traceback."""

    def __init__(self, fmt: str, limit: int = 500) -> None:
        super().__init__(fmt)
        self.limit = limit

    def format(self, record: logging.LogRecord) -> str:
        text = logging.Formatter.formatMessage(self, _with_message(record))
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            text += f" ({type(error).__name__}: {error})"
        return short(text, self.limit)


class Bounded(logging.Formatter):
    """stderr's format, with a record's message cut at `limit` characters (pygls puts whole
    message params in some lines); the traceback stays."""

    def __init__(self, fmt: str, limit: int = 4000) -> None:
        super().__init__(fmt)
        self.limit = limit

    def formatMessage(self, record: logging.LogRecord) -> str:
        if len(record.message) > self.limit:
            record.message = (
                record.message[: self.limit] + f"… ({len(record.message) - self.limit} more characters)"
            )
        return super().formatMessage(record)


def _with_message(record: logging.LogRecord) -> logging.LogRecord:
    record.message = record.getMessage()
    return record


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


_throttles: list[Throttle] = []


def flush_counts() -> None:
    """Log what every throttle still holds back: call before the process exits."""
    for throttle in _throttles:
        throttle.flush(everything=True)


def setup(
    level: str, notify: Callable[[types.LogMessageParams], None], secrets: Callable[[], list[str | None]]
) -> ClientLogHandler:
    """stderr at `level`; reporlm's records at INFO and up also to the client through `notify`.

    Returns the client handler: `bind` it to the event loop once one runs.
    """
    masking = SecretFilter(secrets)
    throttle = Throttle()
    _throttles[:] = [throttle]
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(level.upper())
    stderr.setFormatter(Bounded("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    stderr.addFilter(masking)
    stderr.addFilter(PrintableFilter())  # stderr is often a terminal: a file name may hold escapes
    stderr.addFilter(throttle)
    root = logging.getLogger()
    root.handlers[:] = [stderr]
    root.setLevel(level.upper())
    # pygls logs every message body at INFO: only a debugging session wants that.
    logging.getLogger("pygls").setLevel(logging.DEBUG if level.lower() == "debug" else logging.WARNING)
    logging.getLogger("pygls.protocol.json_rpc").addFilter(ExpectedErrors())
    client = ClientLogHandler(notify)
    client.addFilter(masking)
    client.addFilter(throttle)
    client.setFormatter(OneLine("%(name)s: %(message)s"))
    ours = logging.getLogger("reporlm")
    ours.setLevel(min(logging.INFO, logging.getLevelName(level.upper())))
    ours.addHandler(client)
    return client
