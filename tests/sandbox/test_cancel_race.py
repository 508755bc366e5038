"""A cancellation that lands just as the worker's message arrives still stops the block."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reporlm.sandbox import Sandbox

from .conftest import FUNCTIONS, FakeHost


async def test_a_cancel_arriving_with_a_message_is_not_lost() -> None:
    host = FakeHost()
    sandbox = await Sandbox.start(functions=FUNCTIONS, handler=host)
    try:
        worker = sandbox._worker
        assert worker is not None and worker.process.stdout is not None
        stream = worker.process.stdout
        readline = stream.readline
        runs: list[asyncio.Task[Any]] = []

        async def line_then_cancel() -> bytes:
            # The worker's call message arrives, and in the same step the run is cancelled.
            line = await readline()
            runs[0].cancel()
            return line

        stream.readline = line_then_cancel  # type: ignore[method-assign]
        runs.append(asyncio.create_task(sandbox.execute("files = repo.files()\nimport time\ntime.sleep(60)")))
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(runs[0], 30)
        assert worker.process.returncode is not None, "the worker running the block was stopped"
    finally:
        await sandbox.close()
