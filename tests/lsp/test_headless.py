"""`reporlm plan` and Ctrl-C as a CI job meets them, and the server over TCP."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

from fake_api import FakeAPI
from fake_api import openai_chat as chat
from reporlm.lsp import wire

from .conftest import alive, command, descendants, make_client, open_repo, server_env

PLAN = """# Plan: make retries configurable

## Steps

1. **Read the setting** in `shop/retry.py:3` and drop `MAX_RETRIES`.
   Touches: `shop/retry.py` (`MAX_RETRIES`, `with_retries`)
2. **Pass it through** from `shop/orders.py:5`.
   Touches: `shop/orders.py` (`place`), `shop/config.py` (`load_config`)

## Risks
- Orders pass `retries=5` explicitly: `shop/orders.py:5`
"""


def cli_args(verb: str, text: str, repo: Path, fake: FakeAPI, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "reporlm", verb, text, "--repo", str(repo), "--provider", "openai",
        "--base-url", fake.url + "/v1", "--model", "m", *extra,
    ]  # fmt: skip


async def run_cli(args: list[str], tmp_path: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=server_env(tmp_path)
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode(), err.decode()


async def test_plan_prints_the_steps_and_flags_what_does_not_exist(
    fake_api: FakeAPI, small_repo: Path, tmp_path: Path
) -> None:
    for _ in range(2):
        fake_api.queue(200, chat("```repl\nprint(repo.grep('retries'))\n```"))
        fake_api.queue(200, chat(f"```repl\nplan = {json.dumps(PLAN)}\nFINAL_VAR('plan')\n```"))

    code, out, err = await run_cli(
        cli_args("plan", "make retries configurable", small_repo, fake_api), tmp_path
    )
    assert code == 0, err
    assert out.startswith("# Plan: make retries configurable")
    assert "Plan: 2 steps, 1 risks; places checked: 6 found, 2 not found" in out
    assert "- not found (step 2, Pass it through): `shop/config.py` (no such file: shop/config.py)" in out
    assert "- not found (step 2, Pass it through): `load_config` (no definition of load_config found)" in out
    # The model was asked for a plan, not a plain answer.
    assert "Write a change plan for this goal: make retries configurable" in json.dumps(
        fake_api.received[0].body
    )

    code, out, err = await run_cli(
        cli_args("plan", "make retries configurable", small_repo, fake_api, "--json"), tmp_path
    )
    assert code == 0, err
    data = json.loads(out)
    assert [s["title"] for s in data["steps"]] == ["Read the setting", "Pass it through"]
    # A file named with a line is checked once, as the line.
    assert data["steps"][0]["locations"] == [
        {"path": "shop/retry.py", "start": 3, "end": 3},
        {"path": "shop/retry.py", "start": 3, "end": 3},  # MAX_RETRIES
        {"path": "shop/retry.py", "start": 6, "end": 6},  # with_retries
    ]
    assert [u["text"] for u in data["steps"][1]["unverified"]] == ["shop/config.py", "load_config"]
    assert data["risks"][0]["locations"] == [{"path": "shop/orders.py", "start": 5, "end": 5}]
    assert data["partial"] is False and data["citations"][0]["path"] == "shop/retry.py"


async def test_ctrl_c_stops_the_run_prints_the_partial_answer_and_leaves_no_process(
    fake_api: FakeAPI, small_repo: Path, tmp_path: Path
) -> None:
    fake_api.queue(200, chat("```repl\nimport time\nn = len(repo.files())\ntime.sleep(300)\n```"))
    args = cli_args("ask", "q", small_repo, fake_api, "-v", "--block-seconds", "600")
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=server_env(tmp_path)
    )
    assert process.stderr is not None and process.stdout is not None
    seen = ""
    while "time.sleep(300)" not in seen:
        line = await asyncio.wait_for(process.stderr.readline(), 60)
        assert line, f"the CLI ended early: {seen}"
        seen += line.decode()
    tree = descendants(process.pid)
    assert len(tree) >= 2, "the server and its sandbox worker run under the CLI"

    os.kill(process.pid, signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 130, err.decode()
    assert "interrupted; stopping the run" in err.decode()
    text = out.decode()
    assert text.startswith("_No final answer: the run stopped (cancelled)")
    assert "**Partial answer**: the run stopped (cancelled)" in text
    assert not [pid for pid in tree if alive(pid)]


async def test_serving_over_tcp(small_repo: Path, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    args = [sys.executable, "-P", "-m", "reporlm", "serve", "--tcp", "--port", "0"]
    args += ["--folder", str(small_repo)]
    args += ["--token-file", str(token_file)]
    server = await asyncio.create_subprocess_exec(
        *args, stderr=asyncio.subprocess.PIPE, env=server_env(tmp_path)
    )
    assert server.stderr is not None
    try:
        line = (await asyncio.wait_for(server.stderr.readline(), 60)).decode()
        port = int(re.search(r"listening on \('127\.0\.0\.1', (\d+)\)", line).group(1))  # type: ignore[union-attr]
        client = make_client()
        await client.start_tcp("127.0.0.1", port)
        # A network client presents the server's token, and may not pick the scripted provider.
        await open_repo(client, small_repo, provider="local", token=token_file.read_text().strip())
        status = await command(client, wire.STATUS)
        assert status["configuration_error"] is None
        assert status["repo"] == str(small_repo.resolve())
        await client.shutdown_session()
        assert await asyncio.wait_for(server.wait(), 30) == 0
        await client.stop()
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
