"""Starting, stopping, cancelling, and surviving a worker that dies or lies."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from reporlm.sandbox import Sandbox, SandboxUnavailable

from .conftest import FUNCTIONS, FakeHost, SandboxFactory, alive, process_tree, run_ok


async def test_close_leaves_no_process_behind(sandbox: Sandbox) -> None:
    await run_ok(sandbox, "x = 1")
    assert sandbox.pid is not None
    tree = process_tree(sandbox.pid)
    assert len(tree) == 2  # the outer process and the worker it waits for
    await sandbox.close()
    assert not any(alive(pid) for pid in tree)
    await sandbox.close()  # idempotent
    with pytest.raises(RuntimeError):
        await sandbox.execute("x")


async def test_cancelling_execute_kills_the_worker_promptly(sandbox: Sandbox) -> None:
    assert sandbox.pid is not None
    tree = process_tree(sandbox.pid)
    task = asyncio.create_task(sandbox.execute("import time\ntime.sleep(30)"))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not any(alive(pid) for pid in tree)
    result = await sandbox.execute("print('again')")
    assert result.reset and result.output == "again\n"


async def test_cancelling_during_a_host_call(make_sandbox: SandboxFactory) -> None:
    entered = asyncio.Event()

    async def never_answers(name: str, args: list, kwargs: dict) -> None:
        entered.set()
        await asyncio.Event().wait()

    sandbox = await Sandbox.start(functions=FUNCTIONS, handler=never_answers)
    try:
        assert sandbox.pid is not None
        tree = process_tree(sandbox.pid)
        task = asyncio.create_task(sandbox.execute("llm_query('forever')"))
        await asyncio.wait_for(entered.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not any(alive(pid) for pid in tree)
    finally:
        await sandbox.close()


async def test_worker_that_exits_is_replaced(sandbox: Sandbox) -> None:
    await run_ok(sandbox, "x = 1")
    result = await sandbox.execute("import os\nos._exit(3)")
    assert result.reset and not result.killed
    assert result.error is not None and "exited with code 3" in result.error
    assert await run_ok(sandbox, "print('fresh')") == "fresh\n"


async def test_worker_that_crashes_is_replaced(make_sandbox: SandboxFactory) -> None:
    from .conftest import LAYERS

    sandbox = await make_sandbox(options=LAYERS["no-audit-hook"])
    result = await sandbox.execute("import ctypes\nctypes.string_at(0)")
    assert result.reset and result.killed
    assert result.error is not None and "SIGSEGV" in result.error
    assert await run_ok(sandbox, "print('fresh')") == "fresh\n"


FORGERIES = {
    "garbage": b"garbage\\n",
    "wrong-shape": b'{"type": "done", "id": 1, "output": 3, "error": null, "final": null}\\n',
    "unknown-function": b'{"type": "call", "id": 1, "name": "os.system", "args": ["id"], "kwargs": {}}\\n',
    "stray-message": b'{"type": "ready", "info": {}}\\n',
    "half-a-line": b'{"type": "done", ',
}


@pytest.mark.parametrize("forged", list(FORGERIES.values()), ids=list(FORGERIES))
async def test_messages_forged_by_the_models_code_cost_only_the_worker(
    make_sandbox: SandboxFactory, host: FakeHost, forged: bytes
) -> None:
    """The model's code can write to the channel (it lives in the same process). Whatever it
    writes, the host stays up, calls nothing it was not asked to, and starts a fresh worker."""
    from .conftest import LAYERS

    sandbox = await make_sandbox(options=LAYERS["no-audit-hook"])
    code = (
        "import os, stat\n"
        "for fd in range(3, 20):\n"
        "    try:\n        mode = os.fstat(fd).st_mode\n    except OSError:\n        continue\n"
        "    if stat.S_ISFIFO(mode):\n"
        "        try:\n"
        f"            os.write(fd, {forged!r}.replace(b'\\\\n', b'\\n'))\n"
        "        except OSError:\n            pass\n"
        "import time\ntime.sleep(0.2)\nprint('written')"
    )
    result = await sandbox.execute(code)
    assert result.reset
    assert host.calls == []
    assert await run_ok(sandbox, "print('fresh')") == "fresh\n"


async def test_oversized_message_is_refused(make_sandbox: SandboxFactory) -> None:
    from .conftest import LAYERS

    sandbox = await make_sandbox(options=LAYERS["no-audit-hook"])
    result = await sandbox.execute(
        "import os, stat\nbig = b'x' * (65 * 1024 * 1024)\n"
        "for fd in range(3, 20):\n"
        "    try:\n        ok = stat.S_ISFIFO(os.fstat(fd).st_mode)\n    except OSError:\n        continue\n"
        "    if ok:\n        try:\n            os.write(fd, big)\n        except OSError:\n            pass"
    )
    assert result.reset
    assert result.error is not None and "size limit" in result.error
    assert await run_ok(sandbox, "print('fresh')") == "fresh\n"


async def test_unavailable_off_linux(monkeypatch: pytest.MonkeyPatch, host: FakeHost) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(SandboxUnavailable, match="needs Linux namespaces"):
        await Sandbox.start(functions=FUNCTIONS, handler=host)


async def test_bad_function_names_are_refused(host: FakeHost) -> None:
    for functions in ({"repo": "x", "repo.read": "y"}, {"FINAL": "x"}, {"repo._private": "x"}, {"a-b": "x"}):
        with pytest.raises(ValueError):
            await Sandbox.start(functions=functions, handler=host)


async def test_execute_calls_are_serialised(sandbox: Sandbox) -> None:
    results = await asyncio.gather(*(sandbox.execute(f"n = {i}\nprint(n)") for i in range(5)))
    assert [r.output for r in results] == [f"{i}\n" for i in range(5)]


async def test_close_during_a_block_stops_everything(sandbox: Sandbox) -> None:
    assert sandbox.pid is not None
    tree = process_tree(sandbox.pid)
    running = asyncio.create_task(sandbox.execute("import time\ntime.sleep(30)"))
    await asyncio.sleep(0.3)
    await sandbox.close()
    result = await asyncio.wait_for(running, 5)
    assert result.reset and sandbox.pid is None
    assert not any(alive(pid) for pid in tree)


HOST_THAT_DIES = """
import asyncio, sys, time
sys.path.insert(0, sys.argv[1])
from reporlm.sandbox import Sandbox

async def handler(name, args, kwargs):
    return None

async def main():
    sandbox = await Sandbox.start(functions={}, handler=handler)
    print(sandbox.pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_workers_die_with_a_killed_host() -> None:
    """Killed with SIGKILL, the host cannot clean up: the parent-death signals must do it."""
    server_dir = str(Path(__file__).resolve().parents[2] / "server")
    host = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOST_THAT_DIES, server_dir, stdout=asyncio.subprocess.PIPE
    )
    assert host.stdout is not None
    worker = int(await asyncio.wait_for(host.stdout.readline(), 30))
    tree = process_tree(worker)
    assert len(tree) == 2
    host.kill()
    await host.wait()
    for _ in range(50):
        if not any(alive(pid) for pid in tree):
            break
        await asyncio.sleep(0.1)
    assert not any(alive(pid) for pid in tree)
