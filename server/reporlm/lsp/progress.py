"""What a client sees of a run while it goes: work-done progress and `reporlm/trace` notifications.

Both are listeners on the engine's one trace stream. Progress takes the client's `workDoneToken`
when the request carried one, else creates a token when the client can show server progress.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from lsprotocol import types

from reporlm.engine.trace import Event, preview
from reporlm.lsp import wire

if TYPE_CHECKING:
    from reporlm.lsp.server import ReporlmServer

log = logging.getLogger(__name__)

CREATE_TIMEOUT_SECONDS = 2.0
_STEP = {
    "iteration": "thinking",
    "model_call": "running code",
    "code": "running code",
    "output": "thinking",
    "subcall_start": "reading",
    "child_start": "a helper explores",
    "final": "checking citations",
}


class RunProgress:
    """Progress of one run; call it with each trace event."""

    def __init__(self, server: ReporlmServer, token: types.ProgressToken | None, title: str) -> None:
        self.server = server
        self.token = token
        self.title = title
        self.iteration = ""
        self.sub_calls = 0
        self.tokens = 0
        self.cost = 0.0

    async def begin(self, message: str, on_cancel: Callable[[], None]) -> None:
        """Start showing progress; `on_cancel` runs when the user cancels it from the client."""
        if self.token is None and self._client_shows_progress():
            self.token = await self._create_token()
        if self.token is None:
            return
        progress = self.server.work_done_progress
        progress.begin(
            self.token,
            types.WorkDoneProgressBegin(title=self.title, message=preview(message, 120), cancellable=True),
        )
        loop = asyncio.get_running_loop()
        progress.tokens[self.token].add_done_callback(lambda _: loop.call_soon_threadsafe(on_cancel))

    def __call__(self, event: Event) -> None:
        self.server.protocol.notify(wire.TRACE, event)
        kind = event["kind"]
        if kind == "iteration" and event.get("depth", 0) == 0:
            self.iteration = f"iteration {event['n']}/{event['max']}"
        elif kind == "subcall_start":
            self.sub_calls += 1
        if kind in ("model_call", "subcall_end"):
            self.tokens += int(event.get("input_tokens", 0)) + int(event.get("output_tokens", 0))
            self.cost += float(event.get("cost_usd") or 0.0)
        if self.token is not None and kind in _STEP:
            self.server.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=self.message(_STEP[kind]))
            )

    def message(self, step: str) -> str:
        parts = [self.iteration or "starting", f"{self.sub_calls} sub-calls", f"{self.tokens:,} tokens"]
        if self.cost:
            parts.append(f"${self.cost:.4f}")
        return " · ".join([*parts, step])

    def end(self, message: str) -> None:
        if self.token is None:
            return
        progress = self.server.work_done_progress
        progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        progress.tokens.pop(self.token, None)

    def _client_shows_progress(self) -> bool:
        window = self.server.client_capabilities.window
        return bool(window and window.work_done_progress)

    async def _create_token(self) -> types.ProgressToken | None:
        token = f"reporlm-{uuid.uuid4().hex[:12]}"
        created = asyncio.wrap_future(self.server.work_done_progress.create(token))
        try:
            # Shielded: cancelling a request the client is about to answer breaks pygls 2.1.1 (issue #621).
            await asyncio.wait_for(asyncio.shield(created), CREATE_TIMEOUT_SECONDS)
        except Exception as exc:  # no progress is better than no answer
            log.info("the client did not create a progress token (%s); going on without", exc)
            return None
        return token
