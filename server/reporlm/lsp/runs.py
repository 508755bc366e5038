"""Runs in flight: a pool of engine sessions per workspace folder under one server-wide cap, and a
handle to cancel each run.

Each session has its own sandbox worker, so runs at once never share a REPL. A session that
finishes goes back to its pool (a follow-up question finds its variables there); sessions built
before a settings change are closed instead of reused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from reporlm.lsp.wire import Busy

if TYPE_CHECKING:
    from reporlm.engine.rlm import Models
    from reporlm.engine.session import Session

log = logging.getLogger(__name__)

MAX_IDLE_SESSIONS = 2
"""Sessions kept warm between runs (each holds a sandbox worker process)."""


class Setup:
    """One configuration's way to make sessions; its model clients are built once and shared."""

    def __init__(self, make_models: Callable[[], Models], make_session: Callable[[Models], Session]) -> None:
        self._make_models = make_models
        self._make_session = make_session
        self.models: Models | None = None
        self.active = 0

    def session(self) -> Session:
        if self.models is None:
            self.models = self._make_models()
        return self._make_session(self.models)

    async def close_models(self) -> None:
        models, self.models = self.models, None
        if models is None:
            return
        for client in {id(c): c for c in (models.root, models.sub)}.values():
            try:
                await client.aclose()
            except Exception:
                log.exception("closing a model client failed")


class RunCap:
    """Runs at once across the server, whichever folder they are about (the `maxRuns` option)."""

    def __init__(self, max_runs: int) -> None:
        self.max_runs = max_runs
        self.active = 0


class SessionPool:
    """The sessions of one repository; `cap` is shared by the pools of every folder."""

    def __init__(self, cap: RunCap) -> None:
        self.cap = cap
        self.setup: Setup | None = None
        self._idle: list[tuple[Setup, Session]] = []
        self._retired: list[Setup] = []
        self._closed = False

    @property
    def active(self) -> int:
        return sum(s.active for s in (*self._retired, *([self.setup] if self.setup else [])))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """A session for one run, or Busy when `max_runs` runs are going already."""
        setup = self.setup
        if self._closed or setup is None:
            raise RuntimeError("the server is not configured, or shutting down")
        cap = self.cap
        if cap.active >= cap.max_runs:
            raise Busy(
                f"reporlm is busy: {cap.active} runs are going, the most this server runs at once "
                "(the maxRuns option); try again when one ends, or cancel one"
            )
        session = self._idle.pop()[1] if self._idle else setup.session()
        setup.active += 1
        cap.active += 1
        try:
            yield session
        finally:
            setup.active -= 1
            cap.active -= 1
            if setup is self.setup and not self._closed and len(self._idle) < MAX_IDLE_SESSIONS:
                self._idle.append((setup, session))
            else:
                await _close(session)
                await self._drop_drained()

    async def configure(self, setup: Setup) -> None:
        """New settings: idle sessions close now; busy ones, and their models, when their run ends."""
        old, self.setup = self.setup, setup
        idle, self._idle = self._idle, []
        for _, session in idle:
            await _close(session)
        if old is not None:
            self._retired.append(old)
        await self._drop_drained()

    async def close(self) -> None:
        self._closed = True
        if self.setup is not None:
            await self.configure(Setup(_no_models, _no_session))

    async def _drop_drained(self) -> None:
        for setup in [s for s in self._retired if s.active == 0]:
            self._retired.remove(setup)
            await setup.close_models()


def _no_models() -> Models:
    raise RuntimeError("the server is shutting down")


def _no_session(models: Models) -> Session:
    raise RuntimeError("the server is shutting down")


async def _close(session: Session) -> None:
    try:
        await session.close()
    except Exception:
        log.exception("closing a session failed")


class RunControl:
    """One command's run, as the protocol sees it: cancel it by request id or by progress token."""

    def __init__(self, request_id: Any) -> None:
        self.request_id = request_id
        self.task: asyncio.Task[Any] | None = None
        self.cancelled = False

    def cancel(self) -> None:
        if not self.cancelled:
            log.info("cancelling the run of request %s", self.request_id)
        self.cancelled = True
        if self.task is not None and not self.task.done():
            self.task.cancel()
