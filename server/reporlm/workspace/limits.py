"""What bounds every read and search of the workspace: one size cap, and a caller's deadline.

The repository and the patterns run against it are untrusted, so each read path (`read`, `grep`,
`references`, line counts, outlines, unsaved buffers) honours `MAX_READ_BYTES`, and long loops
check a deadline the caller may set with `deadline(seconds)`. The deadline lives in a context
variable: `asyncio.to_thread` copies the context, so a deadline set around it reaches the thread.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import WorkspaceError
from .tree import human_size

MAX_READ_BYTES = 5 * 1024 * 1024
"""The largest file (or unsaved buffer) read or searched whole; a larger one is refused with a
message, and only a line range of it can be read (streamed)."""
MAX_STREAM_BYTES = 256 * 1024 * 1024
"""How far into a file over MAX_READ_BYTES a line range or a line count may scan."""

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("workspace_deadline", default=None)


class WorkspaceTimeout(WorkspaceError):
    """A call ran past the deadline its caller set; the message says how far it got."""


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Calls made inside (in this context, and threads started from it) stop `seconds` from now;
    an earlier deadline already in force stays. None sets none."""
    if seconds is None:
        yield
        return
    when = time.monotonic() + max(0.0, seconds)
    current = _deadline.get()
    token = _deadline.set(when if current is None else min(current, when))
    try:
        yield
    finally:
        _deadline.reset(token)


def check_deadline(doing: str) -> None:
    """Raise WorkspaceTimeout once the deadline has passed; `doing` says what stopped and how far
    it got ("repo.grep searched 120 of 5,000 files")."""
    when = _deadline.get()
    if when is not None and time.monotonic() >= when:
        raise WorkspaceTimeout(f"out of time: {doing} when its time limit ran out")


def too_large(rel: str, size: int, *, what: str = "") -> WorkspaceError:
    """The error for a file (or buffer) over the read limit, with what to do instead."""
    return WorkspaceError(
        f"{what or rel} is {human_size(size)}, over the {human_size(MAX_READ_BYTES)} read limit; read a "
        f"line range (repo.read({rel!r}, start, end)) or search it (repo.grep(pattern, under={rel!r}))"
    )
