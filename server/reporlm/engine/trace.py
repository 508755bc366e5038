"""One stream of trace events per run; the JSONL file, the CLI's verbose view and progress all read it.

Events are plain dicts with a fixed envelope (`v`, `run`, `seq`, `t`, `depth`, `kind`) so any
consumer, including a later replay of the file, can handle them without importing reporlm.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

TRACE_FORMAT_VERSION = 1

Event = dict[str, Any]
Listener = Callable[[Event], None]

KINDS = (
    "run_start",  # question, repo, models, limits
    "evidence",  # what the index knew about the question's names, sent in the first message
    "iteration",  # n, max
    "model_call",  # root model turn finished: tokens, seconds, text
    "code",  # the block about to run
    "output",  # summary of what the block printed, error, seconds, killed/reset
    "nudge",  # the loop corrected the model (no code, repeated code, ...)
    "subcall_start",  # llm_query prompt (chars, preview)
    "subcall_end",  # tokens, seconds, cached
    "child_start",  # rlm_query question, scope
    "child_end",  # answer preview, partial
    "final",  # answer, partial, reason
    "error",  # something went wrong but the run goes on or ends partial
    "run_end",  # usage totals, seconds
)


class Tracer:
    """Fans events out to listeners; secrets it knows about are masked before anyone sees them."""

    def __init__(self, *, run_id: str | None = None, secrets: Iterable[str] = ()) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self._listeners: list[Listener] = []
        self._secrets = [s for s in secrets if s and len(s) >= 8]
        self._seq = 0
        self._start = time.monotonic()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, kind: str, *, depth: int = 0, **data: Any) -> Event:
        self._seq += 1
        event: Event = {
            "v": TRACE_FORMAT_VERSION,
            "run": self.run_id,
            "seq": self._seq,
            "t": round(time.monotonic() - self._start, 3),
            "depth": depth,
            "kind": kind,
            **{k: self._mask(v) for k, v in data.items()},
        }
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken consumer must not stop the run
                log.exception("trace listener failed on %s", kind)
        return event

    def _mask(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, "[secret]")
        return value


class JsonlWriter:
    """Appends each event to a JSONL file and flushes, so a crash still leaves a readable trace.

    A disk that fails (full, gone, read-only) never costs the run or its answer: the first error
    is logged and kept in `error`, and the events after it are dropped. Nothing here raises OSError.
    """

    def __init__(self, path: Path, file: IO[str] | None = None) -> None:
        """`file`: an already open file to write to instead of opening `path`."""
        self.path = path
        self.error: OSError | None = None
        self._file: IO[str] | None = file
        if file is None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = path.open("a", encoding="utf-8")
            except OSError as exc:
                self._failed(exc)

    def __call__(self, event: Event) -> None:
        if self._file is None:
            return
        try:
            self._file.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
            self._file.flush()
        except OSError as exc:
            self._failed(exc)
            self.close()

    def close(self) -> None:
        file, self._file = self._file, None
        if file is None:
            return
        try:
            file.close()
        except OSError as exc:  # the last flush: a full disk shows here
            self._failed(exc)
            with contextlib.suppress(OSError):
                file.close()  # the buffer is gone now; this releases the descriptor

    def _failed(self, exc: OSError) -> None:
        if self.error is None:
            self.error = exc
            log.warning("the trace %s cannot be written (%s): the run goes on without it", self.path, exc)


def read_trace(path: Path) -> list[Event]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def preview(text: str, limit: int = 160) -> str:
    """One line of a longer text, for events and progress messages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
