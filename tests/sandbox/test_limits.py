"""Per-block limits: wall clock, CPU time, memory; a runaway block is stopped and the session goes on."""

from __future__ import annotations

from textwrap import dedent

import pytest

from reporlm.sandbox import Sandbox, SandboxLimits

from .conftest import LAYERS, SandboxFactory, alive, children, run_ok

FAST = SandboxLimits(wall_seconds=2, cpu_seconds=30, memory_mb=256)


async def test_python_loop_hits_the_wall_limit_and_keeps_state(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(limits=FAST)
    await run_ok(sandbox, "kept = 'before'")
    result = await sandbox.execute("progress = 0\nwhile True:\n    progress += 1")
    assert result.error is not None and result.error.startswith("TimeLimitExceeded")
    assert "wall-clock limit of 2 s" in result.error
    assert 'File "<block 2>", line' in result.output  # where it was interrupted
    assert not result.killed and not result.reset
    assert result.seconds >= 2
    output = await run_ok(sandbox, "print(kept, progress > 0)")
    assert output == "before True\n"


async def test_swallowing_the_interrupt_does_not_help(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(limits=FAST)
    code = dedent("""\
        while True:
            try:
                while True:
                    pass
            except BaseException:  # the interrupt, swallowed
                pass
        """)
    result = await sandbox.execute(code)
    assert result.killed and result.reset
    assert result.error is not None and "did not stop" in result.error
    assert await run_ok(sandbox, "print('fresh')") == "fresh\n"


@pytest.mark.parametrize(
    "options", [LAYERS["all-layers"], LAYERS["kernel-namespaces-only"]], ids=["all", "kernel"]
)
async def test_loop_in_c_is_killed_and_the_session_goes_on(make_sandbox: SandboxFactory, options) -> None:
    sandbox = await make_sandbox(limits=FAST, options=options)
    await run_ok(sandbox, "lost = 1")
    old_pid = sandbox.pid
    assert old_pid is not None
    old_tree = [old_pid, *children(old_pid)]
    result = await sandbox.execute("sum(range(10**13))")
    assert result.killed and result.reset
    assert result.error is not None and result.error.startswith("TimeLimitExceeded")
    assert "all variables and imports are gone" in result.error
    assert not any(alive(pid) for pid in old_tree)
    assert sandbox.pid != old_pid
    gone = await sandbox.execute("print(lost)")
    assert gone.error is not None and gone.error.startswith("NameError")
    assert await run_ok(sandbox, "print('next block runs')") == "next block runs\n"


async def test_cpu_limit(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(limits=SandboxLimits(wall_seconds=20, cpu_seconds=1, memory_mb=256))
    result = await sandbox.execute("n = 0\nwhile True:\n    n += 1")
    assert result.error is not None and result.error.startswith("CpuLimitExceeded")
    assert not result.killed and not result.reset
    # The limit is per block: the next block gets a fresh second.
    assert await run_ok(sandbox, "print(sum(range(10**6)) > 0)") == "True\n"


async def test_time_in_host_calls_does_not_count(make_sandbox: SandboxFactory, host) -> None:
    import asyncio

    slow_host_seconds = 2.5

    async def slow(name: str, args: list, kwargs: dict) -> str:
        await asyncio.sleep(slow_host_seconds)
        return "slow answer"

    sandbox = await Sandbox.start(functions={"llm_query": "ask"}, handler=slow, limits=FAST)
    try:
        result = await sandbox.execute("print(llm_query('q'))")
        assert result.error is None, result.output
        assert result.seconds >= slow_host_seconds
    finally:
        await sandbox.close()


@pytest.mark.parametrize(
    "bomb",
    [
        "x = bytearray(2 * 1024**3)",
        "chunks = []\nwhile True:\n    chunks.append(bytearray(10 * 1024**2))",
        "def grow():\n    s = ['x' * 1000]\n    while True:\n        s = s + s\ngrow()",
    ],
    ids=["one-allocation", "gradual", "in-a-function"],
)
async def test_memory_bomb_raises_memory_error_and_the_session_goes_on(
    make_sandbox: SandboxFactory, bomb: str
) -> None:
    sandbox = await make_sandbox(limits=FAST)
    await run_ok(sandbox, "kept = 'state'")
    result = await sandbox.execute(bomb)
    assert result.error is not None and "MemoryError" in result.error and "256 MB" in result.error
    if not result.reset:
        await run_ok(sandbox, "chunks = None")
        assert await run_ok(sandbox, "print(kept, len(bytearray(50 * 1024**2)))") == f"state {50 * 1024**2}\n"
    assert await run_ok(sandbox, "print('alive')") == "alive\n"
