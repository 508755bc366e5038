"""The watchdog on its own: it ends a process whose client is gone even when nothing else runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reporlm.lsp.watchdog import Watchdog, kill_descendants, process_alive

from .conftest import WAIT_SECONDS

# A process whose main thread is stuck for good, with a child, a watchdog and nothing else.
STUCK = """
import os, subprocess, sys, time
from reporlm.lsp.watchdog import Watchdog

child = subprocess.Popen(["sleep", "300"])
print(child.pid, flush=True)
stopped = []
dog = Watchdog(
    stop=stopped.append,  # asks, as the server's loop would be asked: nobody acts on it
    exit_code=lambda: 7 if stopped else 8,
    input_fd=int(sys.argv[1]) if sys.argv[1] != "-" else None,
    poll=0.05,
    grace=0.3,
)
if len(sys.argv) > 2:
    dog.watch(int(sys.argv[2]))
dog.start()
time.sleep(300)
"""


def run_stuck(*args: str, pass_fds: tuple[int, ...] = ()) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-c", STUCK, *args], stdout=subprocess.PIPE, text=True, pass_fds=pass_fds
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def wait_dead(pid: int) -> bool:
    deadline = time.monotonic() + WAIT_SECONDS
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_closed_input_pipe_ends_a_stuck_process_and_its_children() -> None:
    read, write = os.pipe()
    process, child = run_stuck(str(read), pass_fds=(read,))
    os.close(read)
    assert process_alive(child)
    os.close(write)  # the client hangs up; the stuck process never reads its input
    assert process.wait(WAIT_SECONDS) == 8, "the end of input is the reader's to act on: not `stop`ped"
    assert wait_dead(child)


def test_a_dead_client_process_ends_a_stuck_process() -> None:
    client = subprocess.Popen(["sleep", "300"])
    process, child = run_stuck("-", str(client.pid))
    time.sleep(0.3)
    assert process.poll() is None, "it serves while the client lives"
    client.kill()
    client.wait()
    assert process.wait(WAIT_SECONDS) == 7, "the server was asked to stop, then ended"
    assert wait_dead(child)


def test_a_zombie_is_dead_and_a_reaped_process_too() -> None:
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + WAIT_SECONDS
    while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not process_alive(child.pid), "exited, not yet reaped"
    child.wait()
    assert not process_alive(child.pid)
    assert process_alive(os.getpid())


@pytest.mark.parametrize("pid", [True, -1, 0, "123", 1.5])
def test_a_process_id_that_is_no_pid_is_ignored(pid: object) -> None:
    dog = Watchdog(stop=lambda reason: None, exit_code=lambda: 0)
    dog.watch(pid)
    assert dog._client_pid is None


def test_kill_descendants_reaches_grandchildren() -> None:
    parent = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300 & wait"])
    deadline = time.monotonic() + WAIT_SECONDS
    from .conftest import descendants

    while len(descendants(parent.pid)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    grandchildren = descendants(parent.pid)
    assert kill_descendants(parent.pid) == 2
    assert all(wait_dead(pid) for pid in grandchildren)
    parent.kill()
    parent.wait()
