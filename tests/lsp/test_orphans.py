"""The server never outlives its client: killed CLI, dead `processId`, closed input.

A CI timeout kills `reporlm ask` with SIGKILL; an editor can crash and leave the server's input
open. Either way nothing of reporlm may stay behind, computing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from fake_api import FakeAPI
from fake_api import openai_chat as chat
from reporlm.lsp import wire

from .conftest import (
    children,
    command,
    descendants,
    events,
    gone,
    open_repo,
    repl,
    server_env,
    wait_until,
    write_script,
)

SLEEP = repl("import time\nn = len(repo.files())\ntime.sleep(300)")

FREEZABLE_SERVER = """
import time
from reporlm.lsp import serve
from reporlm.lsp.server import make_server


def freezable():
    server = make_server()

    @server.command("test.freeze")
    def freeze(ls, *args):  # a plain function runs on the event loop: nothing else runs meanwhile
        time.sleep(600)

    return server


serve.make_server = freezable
serve.serve_stdio()
"""


async def start_cli(args: list[str], tmp_path: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reporlm", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=server_env(tmp_path),
    )  # fmt: skip


async def wait_for_line(process: asyncio.subprocess.Process, text: str) -> str:
    """Read the CLI's stderr until `text` shows up."""
    assert process.stderr is not None
    seen = ""
    while text not in seen:
        line = await asyncio.wait_for(process.stderr.readline(), 120)
        assert line, f"the CLI ended early: {seen}"
        seen += line.decode()
    return seen


async def kill_the_cli_and_expect_nothing_left(process: asyncio.subprocess.Process) -> None:
    tree = descendants(process.pid)
    assert tree, "the server runs under the CLI"
    process.kill()
    await process.wait()
    assert process.returncode == -signal.SIGKILL
    await gone(tree, "every process the CLI started to end")


async def cli_in_a_sleeping_block(
    fake_api: FakeAPI, small_repo: Path, tmp_path: Path
) -> asyncio.subprocess.Process:
    """`reporlm ask` whose run sits in a 300 s block, its server and sandbox worker both up."""
    fake_api.queue(200, chat(SLEEP))
    args = ["ask", "q", "--repo", str(small_repo), "--provider", "openai", "--base-url", fake_api.url + "/v1"]
    process = await start_cli([*args, "--model", "m", "-v", "--block-seconds", "600"], tmp_path)
    await wait_for_line(process, "time.sleep(300)")
    await wait_until(lambda: len(descendants(process.pid)) >= 2, "the server and its sandbox worker")
    return process


async def test_a_cli_killed_mid_run_leaves_no_process(
    fake_api: FakeAPI, small_repo: Path, tmp_path: Path
) -> None:
    process = await cli_in_a_sleeping_block(fake_api, small_repo, tmp_path)
    await kill_the_cli_and_expect_nothing_left(process)


async def test_a_cli_killed_while_its_server_is_frozen_leaves_no_process(
    fake_api: FakeAPI, small_repo: Path, tmp_path: Path
) -> None:
    # A stopped server runs nothing, not even its watchdog: only the kernel can end it, told by
    # the CLI to kill it when the CLI dies (PR_SET_PDEATHSIG); its sandbox worker follows it.
    process = await cli_in_a_sleeping_block(fake_api, small_repo, tmp_path)
    (server,) = children(process.pid)
    os.kill(server, signal.SIGSTOP)
    await kill_the_cli_and_expect_nothing_left(process)


async def test_closed_input_ends_a_server_whose_event_loop_is_stuck(small_repo: Path, tmp_path: Path) -> None:
    from .conftest import make_client

    client = make_client()
    await client.start_io(sys.executable, "-c", FREEZABLE_SERVER, env=server_env(tmp_path))
    server = client._server
    assert server is not None
    script = write_script(tmp_path / "script.json", conversations=[{"match": "slow", "turns": [SLEEP]}])
    await open_repo(client, small_repo, script, block_seconds=600)
    request = asyncio.ensure_future(command(client, wire.ASK, {"question": "slow"}))
    await wait_until(lambda: events(client, "code"), "the block to start")
    tree = await wait_until(lambda: descendants(server.pid), "the sandbox worker")
    freeze = types.ExecuteCommandParams(command="test.freeze", arguments=[])
    client.protocol.send_request(types.WORKSPACE_EXECUTE_COMMAND, freeze)
    await asyncio.sleep(0.5)  # the loop is asleep in the handler now

    assert server.stdin is not None
    server.stdin.close()
    await gone({server.pid, *tree}, "the frozen server and its worker to end")
    assert await asyncio.wait_for(server.wait(), 30) == 1
    request.cancel()
    await client.stop()


async def test_the_server_exits_when_the_client_process_dies_though_its_input_stays_open(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    # The "client" named in initialize is a process of its own, so it can die while the pipes
    # (held by this test) stay open: as when an editor's extension host crashes.
    client = subprocess.Popen(["sleep", "300"])
    script = write_script(tmp_path / "script.json", conversations=[{"match": "slow", "turns": [SLEEP]}])
    await open_repo(lsp, small_repo, script, process_id=client.pid, block_seconds=600)
    server = lsp._server
    assert server is not None
    request = asyncio.ensure_future(command(lsp, wire.ASK, {"question": "slow"}))
    await wait_until(lambda: events(lsp, "code"), "the block to start")
    tree = await wait_until(lambda: descendants(server.pid), "the sandbox worker")
    assert (await command(lsp, wire.STATUS))["runs"]["active"] == 1, "it serves while the client lives"

    client.kill()
    client.wait()
    await gone({server.pid, *tree}, "the server and its worker to end")
    assert await asyncio.wait_for(server.wait(), 30) == 1  # as `exit` without `shutdown`
    request.cancel()


async def test_a_process_id_that_names_no_process_here_is_not_watched(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    # A client in another container (or machine) sends a pid from its own pid namespace: the
    # server must not take that for a dead client and quit; the end of its input still ends it.
    gone_already = subprocess.Popen(["true"])
    gone_already.wait()
    await open_repo(
        lsp, small_repo, write_script(tmp_path / "s.json", replies=[]), process_id=gone_already.pid
    )
    server = lsp._server
    assert server is not None
    await asyncio.sleep(1.5)  # three watchdog polls
    assert (await command(lsp, wire.STATUS))["server"]["name"] == "reporlm"
    assert any("is not a process on this machine: not watching it" in m.message for m in lsp.log_messages)
    assert server.stdin is not None
    server.stdin.close()
    assert await asyncio.wait_for(server.wait(), 30) == 1


# -- with the embedded model computing ------------------------------------------------------------

QUESTION = "Explain in detail how every function in this repository works, file by file."


@pytest.mark.model
async def test_a_cli_killed_while_the_embedded_model_computes_leaves_no_process(
    small_repo: Path, tmp_path: Path
) -> None:
    args = ["ask", QUESTION, "--repo", str(small_repo), "--provider", "local", "-v"]
    process = await start_cli(args, tmp_path)
    await wait_for_line(process, "iteration 1/")  # the first model call has started
    await asyncio.sleep(2)  # it is computing now (prompt processing, then tokens)
    await kill_the_cli_and_expect_nothing_left(process)


@pytest.mark.model
async def test_closed_input_ends_the_server_while_the_embedded_model_computes(
    small_repo: Path, tmp_path: Path
) -> None:
    # No PR_SET_PDEATHSIG here (the test starts the server itself): only the server's own watchdog
    # can end it, while its only model thread is busy in llama.cpp and the orderly stop waits on it.
    from .conftest import make_client, serve_command

    client = make_client()
    await client.start_io(*serve_command(), env=server_env(tmp_path))
    server = client._server
    assert server is not None
    await open_repo(client, small_repo, provider="local")
    request = asyncio.ensure_future(command(client, wire.ASK, {"question": QUESTION}))
    await wait_until(lambda: events(client, "iteration"), "the first model call to start")
    await asyncio.sleep(2)
    tree = descendants(server.pid)
    assert server.stdin is not None
    server.stdin.close()
    await gone({server.pid, *tree}, "the server to end")
    request.cancel()
    await client.stop()
