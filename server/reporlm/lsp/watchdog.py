"""The server ends when its client is gone, even while the event loop or a native call is busy.

A plain thread, not a task (a busy loop must not delay it), watches for three signs: the client
hung up its end of the input pipe (seen with poll(2), whether or not the loop reads), the reader
reached the end of input, or the client process that `initialize` named (`processId`) died — LSP
says the server then exits. (A processId that names no process at `initialize` is not watched:
the client numbers processes in another pid namespace, a container's or another machine's.)

The end of input is the reader's to act on, in order (an `exit` may still be in the pipe); a dead
client process is told to the loop (`stop`). Either way, once the server has made no progress for
`grace` seconds (no more input consumed) and is still there, the watchdog kills every process
below it (sandbox and parse workers) and leaves with os._exit: a model computing in a thread
(llama.cpp releases the GIL while it computes), a shutdown waiting on one, or a handler that never
returns cannot keep an orphan alive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
GRACE_SECONDS = 3.0


class Watchdog:
    def __init__(
        self,
        stop: Callable[[str], None],
        exit_code: Callable[[], int],
        *,
        input_fd: int | None = None,
        before_exit: Callable[[], None] | None = None,
        poll: float = POLL_SECONDS,
        grace: float = GRACE_SECONDS,
    ) -> None:
        """`stop(reason)` asks the server to stop (called from this thread); `exit_code()` is the
        code to leave with when it has not stopped in time; `input_fd` is the pipe to watch;
        `before_exit` runs just before the watchdog ends the process."""
        self._stop = stop
        self._before_exit = before_exit
        self._exit_code = exit_code
        self._input_fd = input_fd
        self._poll = poll
        self._grace = grace
        self._client_pid: int | None = None
        self._gone: str | None = None
        self._input_ended = False
        self._progress = 0
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reporlm-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def watch(self, pid: object) -> None:
        """The `initialize` processId: the server exits when that process is gone."""
        if pid is None:
            return
        if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
            log.warning("ignoring processId %r: not a process id", pid)
            return
        if sys.platform == "win32":  # os.kill(pid, 0) would terminate it there
            log.info("not watching the client process %d on Windows", pid)
            return
        if not process_alive(pid):
            # Not a process here: a client in another container or on another machine numbers its
            # processes differently. The end of input still tells when it is gone.
            log.warning("the client's processId %d is not a process on this machine: not watching it", pid)
            return
        self._client_pid = pid
        self._wake.set()

    def input_read(self) -> None:
        """Called by the reader, from its own thread, for each piece of input it consumed."""
        self._progress += 1

    def input_ended(self) -> None:
        """Called by the reader, from its own thread, at the end of input."""
        self._input_ended = True
        self._wake.set()

    def _run(self) -> None:
        hangup = _HangUp(self._input_fd)
        deadline = 0.0
        progress = -1
        while True:
            if not hangup.wait(self._poll):
                self._wake.wait(self._poll)
            self._wake.clear()
            if self._gone is None:
                self._gone = self._sign(hangup.seen)
                if self._gone is None:
                    continue
                if self._gone.startswith("the client closed"):
                    log.info("%s", self._gone)  # the reader acts on it, after what is still unread
                else:
                    log.warning("%s: stopping", self._gone)
                    with contextlib.suppress(Exception):  # the loop may be closed already
                        self._stop(self._gone)
            now = time.monotonic()
            if self._progress != progress:  # still reading what the client sent before it left
                progress, deadline = self._progress, now + self._grace
            elif now >= deadline:
                break
        killed = kill_descendants()
        log.warning(
            "the server did not stop within %.0f s of its client going: killed %d processes below it",
            self._grace,
            killed,
        )
        if self._before_exit is not None:
            with contextlib.suppress(Exception):
                self._before_exit()
        logging.shutdown()
        os._exit(self._exit_code())

    def _sign(self, hung_up: bool) -> str | None:
        if hung_up or self._input_ended:
            return "the client closed the connection"
        pid = self._client_pid
        if pid is not None and not process_alive(pid):
            return f"the client process {pid} is gone"
        return None


class _HangUp:
    """Waits for the writer of a pipe to close it, without reading from it (poll's POLLHUP)."""

    def __init__(self, fd: int | None) -> None:
        self.seen = False
        self._poller = None
        if fd is not None and hasattr(select, "poll"):
            self._poller = select.poll()
            self._poller.register(fd, 0)  # POLLHUP and POLLERR are always reported

    def wait(self, seconds: float) -> bool:
        """Whether it waited (False: nothing to watch, or the hang-up was seen already)."""
        if self._poller is None or self.seen:
            return False
        for _, events in self._poller.poll(int(seconds * 1000)):
            if events & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                self.seen = True
        return True


def process_alive(pid: int) -> bool:
    """Whether `pid` names a live process (a zombie is dead: it only waits to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, as another user
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS), or it just went: the next poll decides
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def kill_descendants(root: int | None = None) -> int:
    """SIGKILL every process below `root` (default: this one), deepest first; how many there were."""
    root = os.getpid() if root is None else root
    children = _children_by_parent()
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.append(child)
                todo.append(child)
    for pid in reversed(found):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return len(found)


def _children_by_parent() -> dict[int, list[int]]:
    pairs: list[tuple[int, int]] = []
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rpartition(")")[2].split()
                except OSError:
                    continue
                if len(fields) > 1:
                    pairs.append((int(fields[1]), int(entry.name)))
    else:  # macOS and the BSDs
        try:
            listing = subprocess.run(
                ["ps", "-A", "-o", "pid=", "-o", "ppid="], capture_output=True, text=True, timeout=5
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return {}
        for line in listing.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                pairs.append((int(parts[1]), int(parts[0])))
    children: dict[int, list[int]] = {}
    for parent, child in pairs:
        children.setdefault(parent, []).append(child)
    return children
