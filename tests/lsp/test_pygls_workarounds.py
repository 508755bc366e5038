"""Regression tests for what the server works around in pygls 2.1.1, in process (no subprocess)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from reporlm.lsp import wire
from reporlm.lsp.server import ReporlmServer, make_server


class Collect:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.messages.append(json.loads(data.split(b"\r\n\r\n", 1)[1]))

    def close(self) -> None:
        pass


def feed(server: ReporlmServer, message: dict[str, Any]) -> None:
    server.protocol.receive(json.dumps(message).encode())


async def test_finished_command_handlers_are_not_kept(small_repo: Path) -> None:
    server = make_server()
    out = Collect()
    server.protocol.set_writer(out)
    init = {
        "capabilities": {},
        "rootUri": small_repo.as_uri(),
        "initializationOptions": {"provider": "scripted"},
    }
    feed(server, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
    for i in range(5):
        params = {"command": wire.STATUS, "arguments": [{}]}
        feed(server, {"jsonrpc": "2.0", "id": 10 + i, "method": "workspace/executeCommand", "params": params})
    for _ in range(200):
        if sum("result" in m for m in out.messages) == 6:
            break
        await asyncio.sleep(0.01)
    assert [m["id"] for m in out.messages if "result" in m] == [1, 10, 11, 12, 13, 14]
    assert server.protocol._request_futures == {}, "each answered command left nothing behind"
    await server.aclose()
