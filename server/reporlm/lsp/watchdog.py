"""The server ends when its client is gone, even while the event loop or a native call is busy.

A plain thread, not a task (a busy loop must not delay it), watches for two signs: the end of
input (the thread reading it says so) and the death of the client process that `initialize` named
(`processId`; LSP says the server then exits). On either, it asks the loop to stop as usual
(runs stopped, sandbox workers killed, indexes closed); if the process is still there `grace`
seconds later, it kills every process below it (sandbox and parse workers) and leaves with
os._exit. A model computing in a thread (llama.cpp releases the GIL while it computes) or a
shutdown waiting on one cannot keep an orphan alive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
GRACE_SECONDS = 2.0


class Watchdog:
    def __init__(
        self,
        stop: Callable[[str], None],
        exit_code: Callable[[], int],
        *,
        poll: float = POLL_SECONDS,
        grace: float = GRACE_SECONDS,
    ) -> None:
        """`stop(reason)` asks the server to stop (from this thread); `exit_code()` is the code to
        leave with if it has not by the end of the grace period."""
        self._stop = stop
        self._exit_code = exit_code
        self._poll = poll
        self._grace = grace
        self._client_pid: int | None = None
        self._gone: str | None = None
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
        self._client_pid = pid
        self._wake.set()

    def input_ended(self) -> None:
        """Called by the reader, from its own thread, at the end of input."""
        self.client_gone("the client closed the connection")

    def client_gone(self, reason: str) -> None:
        if self._gone is None:
            self._gone = reason
        self._wake.set()

    def _run(self) -> None:
        while self._gone is None:
            self._wake.wait(self._poll)
            self._wake.clear()
            pid = self._client_pid
            if self._gone is None and pid is not None and not process_alive(pid):
                self._gone = f"the client process {pid} is gone"
        log.warning("%s: stopping", self._gone)
        with contextlib.suppress(Exception):  # the loop may be closed already
            self._stop(self._gone)
        # Only reached when the orderly stop did not end the process in time.
        threading.Event().wait(self._grace)
        code = self._exit_code()
        killed = kill_descendants()
        log.warning(
            "the server did not stop within %.0f s: killed %d processes below it; exiting",
            self._grace,
            killed,
        )
        logging.shutdown()
        os._exit(code)


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
