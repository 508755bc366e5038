"""A real `reporlm serve` process per test, driven over stdio by pytest-lsp's client.

Models are scripted: a test writes a JSON script (see reporlm.lsp.script) and names it in the
initializationOptions, which the server honours for the `scripted` provider only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import register_lsp_features

from reporlm.lsp import wire
from reporlm.lsp.client import plain_converter

WAIT_SECONDS = 30.0
"""How long a test waits for something that should come; a guard against hangs, not a speed check."""


def server_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("REPORLM_")}
    env["REPORLM_CACHE_DIR"] = str(tmp_path / "cache")
    return env


def make_client() -> LanguageClient:
    client = LanguageClient(converter_factory=plain_converter)
    register_lsp_features(client)
    client.traces: list[dict[str, Any]] = []  # type: ignore[misc]

    @client.feature(wire.TRACE)
    def trace(ls: LanguageClient, event: dict[str, Any]) -> None:
        ls.traces.append(event)  # type: ignore[attr-defined]

    return client


def serve_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "reporlm", *extra, "serve"]


@pytest_asyncio.fixture
async def lsp(tmp_path: Path) -> AsyncIterator[LanguageClient]:
    """A client connected to a fresh server; not initialized yet (see `open_repo`)."""
    config = ClientServerConfig(
        server_command=serve_command(), client_factory=make_client, server_env=server_env(tmp_path)
    )
    client = await config.start()
    try:
        yield client
    finally:
        if client._server is not None and client._server.returncode is None:
            await asyncio.wait_for(client.shutdown_session(), WAIT_SECONDS)
        await client.stop()


def write_script(path: Path, **script: Any) -> Path:
    path.write_text(json.dumps(script), encoding="utf-8")
    return path


async def open_repo(
    client: LanguageClient,
    repo: Path,
    script: Path | None = None,
    *,
    capabilities: types.ClientCapabilities | None = None,
    process_id: int | None = None,
    **options: Any,
) -> types.InitializeResult:
    init: dict[str, Any] = {"provider": "scripted", **options}
    if script is not None:
        init["script"] = str(script)
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities or client_capabilities("visual_studio_code"),
            process_id=process_id,  # None: pytest-lsp sends this process's id
            root_uri=repo.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=repo.as_uri(), name=repo.name)],
            initialization_options=init,
        )
    )


async def command(client: LanguageClient, name: str, argument: Any = None, **kwargs: Any) -> Any:
    """Run a server command and wait for its answer; raises the server's JsonRpcException."""
    params = types.ExecuteCommandParams(command=name, arguments=[argument if argument is not None else {}])
    return await asyncio.wait_for(
        client.protocol.send_request_async(types.WORKSPACE_EXECUTE_COMMAND, params, **kwargs), WAIT_SECONDS
    )


async def wait_until(condition: Callable[[], Any], what: str) -> Any:
    """Poll `condition` until it returns something truthy (and return it)."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        value = condition()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def events(client: LanguageClient, kind: str | None = None) -> list[dict[str, Any]]:
    traces: list[dict[str, Any]] = client.traces  # type: ignore[attr-defined]
    return [e for e in traces if kind is None or e["kind"] == kind]


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields and fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def children(pid: int) -> list[int]:
    """Live processes whose parent is `pid`."""
    return _children_by_parent().get(pid, [])


def descendants(pid: int) -> set[int]:
    """Live processes under `pid`, at any depth."""
    children = _children_by_parent()
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


async def gone(pids: set[int], what: str) -> None:
    """Wait until none of `pids` is alive (a guard against hangs, as everywhere here)."""
    await wait_until(lambda: not [pid for pid in pids if alive(pid)], what)


def repl(code: str) -> str:
    return f"```repl\n{code}\n```"


async def status_when(client: LanguageClient, condition: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Ask for the status until `condition` holds for it."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        status: dict[str, Any] = await command(client, wire.STATUS)
        if condition(status):
            return status
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"the status never got there: {status}")
        await asyncio.sleep(0.05)


def send_raw(client: LanguageClient, body: bytes, request_id: str | None = None) -> asyncio.Future[Any]:
    """Write one message as the bytes given; a future for the answer when it has an id."""
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    if request_id is not None:
        client.protocol._request_futures[request_id] = future
    assert client.protocol.writer is not None
    client.protocol.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    return asyncio.wrap_future(future)


class RawClient:
    """A client that writes whatever bytes a test gives it and reads what the server writes strictly:
    every frame must be `Content-Length` (and `Content-Type`) headers and a JSON-RPC body; anything
    else is kept in `stray`."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.messages: list[dict[str, Any]] = []
        self.stray = b""
        self._arrived = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, tmp_path: Path) -> RawClient:
        process = await asyncio.create_subprocess_exec(
            *serve_command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=server_env(tmp_path),
        )
        return cls(process)

    def send(self, data: bytes | Any) -> None:
        """Raw bytes as they are; anything else as one well-framed JSON message."""
        if not isinstance(data, bytes):
            data = frame(data)
        assert self.process.stdin is not None
        self.process.stdin.write(data)

    async def initialize(self, repo: Path, **options: Any) -> dict[str, Any]:
        params = {
            "processId": None,
            "capabilities": {},
            "rootUri": repo.as_uri(),
            "initializationOptions": {"provider": "scripted", **options},
        }
        self.send({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": params})
        reply = await self.reply("init")
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        return reply

    async def status(self, msg_id: str | int) -> dict[str, Any]:
        self.send(status_request(msg_id))
        return await self.reply(msg_id)

    async def reply(self, msg_id: str | int | None) -> dict[str, Any]:
        """The response with this id (null for errors about messages that had none usable)."""
        return await self.wait_for(
            lambda m: "method" not in m and m.get("id") == msg_id, f"a reply to {msg_id!r}"
        )

    async def wait_for(self, condition: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
        while True:
            found = next((m for m in self.messages if condition(m)), None)
            if found is not None:
                return found
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self._reader.done():
                pytest.fail(f"timed out waiting for {what}; got {self.messages[-5:]}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    def replies(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if "method" not in m]

    def logs(self) -> list[str]:
        return [m["params"]["message"] for m in self.messages if m.get("method") == "window/logMessage"]

    async def close(self) -> tuple[int, str]:
        """Close the input; the exit code and stderr."""
        assert self.process.stdin is not None and self.process.stderr is not None
        self.process.stdin.close()
        err = await asyncio.wait_for(self.process.stderr.read(), WAIT_SECONDS)
        code = await asyncio.wait_for(self.process.wait(), WAIT_SECONDS)
        await self._reader
        return code, err.decode(errors="replace")

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            try:
                header = await stdout.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as end:
                self.stray += end.partial
                return
            lines = header[:-4].decode("ascii", "replace").split("\r\n")
            fields = dict(line.split(": ", 1) for line in lines if ": " in line)
            length = fields.get("Content-Length", "")
            known = not set(fields) - {"Content-Length", "Content-Type"}
            if len(fields) != len(lines) or not known or not length.isdigit():
                self.stray += header + await stdout.read()
                return
            message = json.loads(await stdout.readexactly(int(length)))
            assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", message
            self.messages.append(message)
            self._arrived.set()


def frame(message: Any) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def status_request(msg_id: str | int) -> dict[str, Any]:
    params = {"command": wire.STATUS, "arguments": [{}]}
    return {"jsonrpc": "2.0", "id": msg_id, "method": "workspace/executeCommand", "params": params}
