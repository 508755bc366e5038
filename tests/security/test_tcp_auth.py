"""`reporlm serve --tcp` trusts nobody who cannot read its token, and a network client that can is
still held back: no endpoints, key files, scripted provider or model files, no folders beyond the
ones the server was started with. stdio is unchanged (its client started the server)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from fake_api import FakeAPI
from repo_builder import SMALL_REPO, make_repo
from reporlm.lsp import remote, wire

WAIT = 30.0
KEY = "sk-ant-owner-secret-0123456789"


@dataclass
class Served:
    process: asyncio.subprocess.Process
    port: int
    token_file: Path
    stderr: list[str]

    @property
    def token(self) -> str:
        return self.token_file.read_text().strip()


async def start_server(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Served:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith("REPORLM_") and not k.endswith("_API_KEY")
    }
    base.update(REPORLM_CACHE_DIR=str(tmp_path / "cache"), ANTHROPIC_API_KEY=KEY, **(env or {}))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-P", "-m", "reporlm", "serve", "--tcp", "--port", "0", *args,
        stderr=asyncio.subprocess.PIPE, env=base,
    )  # fmt: skip
    assert process.stderr is not None
    lines: list[str] = []
    port = token = None
    while port is None or token is None:
        line = (await asyncio.wait_for(process.stderr.readline(), WAIT)).decode()
        assert line, "the server stopped:\n" + "".join(lines)
        lines.append(line)
        if found := re.search(r"listening on \('127\.0\.0\.1', (\d+)\)", line):
            port = int(found.group(1))
        if found := re.search(r"the token in (\S+) \(initializationOptions\.token\)", line):
            token = Path(found.group(1))
    served = Served(process, port, token, lines)
    asyncio.get_running_loop().create_task(_drain(served))
    return served


async def _drain(served: Served) -> None:
    assert served.process.stderr is not None
    while line := await served.process.stderr.readline():
        served.stderr.append(line.decode())


async def stop(served: Served) -> None:
    if served.process.returncode is None:
        served.process.kill()
        await served.process.wait()


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def initialize(repo: Path, options: dict[str, Any] | None, method: str = "initialize") -> dict[str, Any]:
    params: dict[str, Any] = {"processId": None, "rootUri": repo.as_uri(), "capabilities": {}}
    if options is not None:
        params["initializationOptions"] = options
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


async def refused(port: int, data: bytes) -> None:
    """The connection ends without a byte of reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), WAIT) == b""
    writer.close()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", SMALL_REPO)


@pytest_asyncio.fixture
async def served(tmp_path: Path, repo: Path) -> AsyncIterator[Served]:
    server = await start_server(tmp_path, "--folder", str(repo), "--token-file", str(tmp_path / "token"))
    try:
        yield server
    finally:
        await stop(server)


async def connect(served: Served, repo: Path, options: dict[str, Any]) -> LanguageClient:
    client = LanguageClient()
    client.messages: list[str] = []  # type: ignore[misc]

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def show(ls: LanguageClient, params: types.ShowMessageParams) -> None:
        ls.messages.append(params.message)  # type: ignore[attr-defined]

    await client.start_tcp("127.0.0.1", served.port)
    await asyncio.wait_for(
        client.initialize_session(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                root_uri=repo.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=repo.as_uri(), name=repo.name)],
                initialization_options=options,
            )
        ),
        WAIT,
    )
    return client


async def status(client: LanguageClient) -> dict[str, Any]:
    params = types.ExecuteCommandParams(command=wire.STATUS, arguments=[{}])
    result = await asyncio.wait_for(
        client.protocol.send_request_async(types.WORKSPACE_EXECUTE_COMMAND, params), WAIT
    )
    return dict(result)


def test_the_token_file_is_private(served: Served) -> None:
    info = os.stat(served.token_file)
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.geteuid()
    assert len(served.token) >= 40


async def test_without_the_token_nothing_is_answered(served: Served, repo: Path) -> None:
    port = served.port
    await refused(port, frame(initialize(repo, None)))  # no initializationOptions
    await refused(port, frame(initialize(repo, {"provider": "local"})))  # no token
    await refused(port, frame(initialize(repo, {"token": "not-the-token"})))
    await refused(port, frame(initialize(repo, {"token": served.token[:-1]})))  # a prefix is not enough
    await refused(port, frame(initialize(repo, {"token": 12345})))
    # The token on anything but initialize is refused too: initialize comes first.
    status_request = {"jsonrpc": "2.0", "id": 1, "method": "workspace/executeCommand", "params": {}}
    await refused(
        port, frame({**status_request, "params": {"initializationOptions": {"token": served.token}}})
    )
    await refused(port, frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    await refused(port, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    await refused(port, b"Content-Length: 99999999\r\n\r\n{}")
    await refused(port, b"Content-Length: 4\r\n\r\nnull")
    # None of those took the one client's place: the owner still gets in.
    client = await connect(served, repo, {"token": served.token})
    assert (await status(client))["repo"] == str(repo.resolve())
    await client.shutdown_session()
    await client.stop()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("baseUrl", "FAKE_API", "base_url is not accepted from a network client"),
        ("apiKeyFile", "/root/.ssh/id_ed25519", "api_key_file is not accepted from a network client"),
        ("provider", "scripted", "the scripted provider is not accepted from a network client"),
        ("script", "/tmp/replies.json", "script is not accepted from a network client"),
        ("model", "/tmp/evil.gguf", "is not accepted from a network client: the server would load that file"),
    ],
)
async def test_an_authenticated_network_client_cannot_redirect_the_key_or_run_code(
    served: Served, repo: Path, fake_api: FakeAPI, option: str, value: str, message: str
) -> None:
    value = fake_api.url + "/v1" if value == "FAKE_API" else value  # where the key would go
    client = await connect(served, repo, {"token": served.token, option: value})
    first = await status(client)
    assert message in (first["configuration_error"] or ""), first
    # Nor later, through a configuration change.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"reporlm": {option: value, "maxRuns": 2}})
    )
    second = await status(client)
    assert message in (second["configuration_error"] or ""), second
    assert second["runs"]["max"] == 4  # the change was refused as a whole
    assert any(message in m for m in client.messages)  # type: ignore[attr-defined]
    # Allowed options still apply.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"reporlm": {"maxRuns": 2, "provider": "local"}})
    )
    third = await status(client)
    assert third["configuration_error"] is None and third["runs"]["max"] == 2
    assert fake_api.received == []
    await client.shutdown_session()
    await client.stop()


async def test_folders_outside_the_served_ones_are_refused(
    tmp_path: Path, served: Served, repo: Path
) -> None:
    secret = make_repo(tmp_path / "owner-only", {"secret.txt": "password=hunter2\n"})
    (repo / "escape").symlink_to(secret)  # inside by name, outside in fact
    for folder in (secret, repo / "escape", Path("/")):
        client = LanguageClient()
        await client.start_tcp("127.0.0.1", served.port)
        params = types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=folder.as_uri(),
            initialization_options={"token": served.token},
        )
        with pytest.raises(JsonRpcException, match="outside the folders this server was started with"):
            await asyncio.wait_for(client.initialize_session(params), WAIT)
        await stop(served)  # first: the client's reader ends when the connection does
        await client.stop()
        served = await start_server(tmp_path, "--folder", str(repo), "--token-file", str(tmp_path / "token"))
    # A folder added later is refused the same way; the served one keeps working.
    client = await connect(served, repo, {"token": served.token})
    event = types.WorkspaceFoldersChangeEvent(
        added=[types.WorkspaceFolder(secret.as_uri(), "secret")], removed=[]
    )
    client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(event=event))
    result = await status(client)
    assert [f["uri"] for f in result["folders"]] == [repo.as_uri()]
    assert any("outside the folders" in m for m in client.messages)  # type: ignore[attr-defined]
    await client.shutdown_session()
    await client.stop()
    await stop(served)


async def test_the_default_token_file_is_in_a_private_runtime_folder(tmp_path: Path, repo: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    served = await start_server(tmp_path, "--folder", str(repo), env={"XDG_RUNTIME_DIR": str(runtime)})
    try:
        assert served.token_file == runtime / "reporlm" / f"serve-{served.port}.token"
        assert stat.S_IMODE(os.stat(served.token_file.parent).st_mode) == 0o700
        client = await connect(served, repo, {"token": served.token})
        await client.shutdown_session()
        client.exit(None)
        assert await asyncio.wait_for(served.process.wait(), WAIT) == 0
        await client.stop()
        assert not served.token_file.exists()  # removed when the server stops
    finally:
        await stop(served)


async def test_a_silent_connection_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "FIRST_MESSAGE_SECONDS", 0.2)
    reader = asyncio.StreamReader()
    reader.feed_data(b"Content-Length: 50\r\n\r\n{")  # and then nothing
    assert await remote.Gate().admit(reader, "peer") is None


async def test_the_admitted_stream_starts_with_initialize_without_the_token() -> None:
    gate = remote.Gate()
    reader = asyncio.StreamReader()
    reader.feed_data(frame(initialize(Path("/r"), {"token": gate.token, "maxRuns": 2})) + b"rest")
    reader.feed_eof()
    admitted = await gate.admit(reader, "peer")
    assert admitted is not None
    header = await admitted.readline()
    length = int(header.split(b":")[1])
    assert await admitted.readline() == b"\r\n"
    message = json.loads(await admitted.readexactly(length))
    assert message["params"]["initializationOptions"] == {"maxRuns": 2}
    assert await admitted.read(100) == b"rest"


def test_folder_and_token_file_are_for_tcp_only(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-P", "-m", "reporlm", "serve", "--folder", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "are for --tcp" in done.stderr
