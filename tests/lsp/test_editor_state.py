"""What the editor tells the server: unsaved buffers, settings, and calls that make no sense."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from fake_api import FakeAPI
from reporlm.lsp import wire

from .conftest import command, events, open_repo, repl, send_raw, status_when, wait_until, write_script

LOOK = repl("print(repo.read('shop/retry.py', 3, 3).strip())\nprint(repo.grep('NEW_FLAG'))")


def look(question: str) -> dict[str, object]:
    return {"match": question, "turns": [LOOK, "FINAL(See shop/retry.py:3 and shop/retry.py:15.)"]}


async def test_the_engine_reads_open_buffers_not_the_disk(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "s.json",
        conversations=[look("first look"), look("second look"), look("third look"), look("new file")],
    )
    await open_repo(lsp, small_repo, script)
    retry = small_repo / "shop" / "retry.py"
    disk = retry.read_text()
    unsaved = disk.replace("MAX_RETRIES = 3", "MAX_RETRIES = 7") + "\n\nNEW_FLAG = True\n"
    lsp.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(retry.as_uri(), "python", 1, unsaved))
    )
    first = await command(lsp, wire.ASK, {"question": "first look"})
    output = events(lsp, "output")[-1]["preview"]
    assert output.startswith("MAX_RETRIES = 7") and "NEW_FLAG = True" in output
    # Line 15 exists only in the buffer, and the citation check sees the buffer too.
    assert [c["verified"] for c in first["cited"]] == [True, True]

    # An incremental edit: 7 becomes 9.
    line = 2  # 0-based line of MAX_RETRIES
    edit = types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(line, 14), types.Position(line, 15)), text="9"
    )
    lsp.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=2, uri=retry.as_uri()), content_changes=[edit]
        )
    )
    await command(lsp, wire.ASK, {"question": "second look"})
    assert events(lsp, "output")[-1]["preview"].startswith("MAX_RETRIES = 9")

    # Closed without saving: the disk again, and line 15 is gone.
    lsp.text_document_did_close(
        types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(retry.as_uri()))
    )
    third = await command(lsp, wire.ASK, {"question": "third look"})
    assert events(lsp, "output")[-1]["preview"].startswith("MAX_RETRIES = 3 []")
    assert third["cited"][1]["verified"] is False and "12 lines" in third["cited"][1]["reason"]
    assert retry.read_text() == disk

    # A buffer for a file not on disk yet is part of the repository while it is open.
    new = small_repo / "shop" / "flags.py"
    lsp.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(new.as_uri(), "python", 1, "NEW_FLAG = 1\n"))
    )
    await command(lsp, wire.ASK, {"question": "new file"})
    assert "shop/flags.py:1: NEW_FLAG = 1" in events(lsp, "output")[-1]["preview"]


async def test_a_saved_file_joins_the_listing_and_the_symbol_index_before_the_next_run(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    plan = "# Plan: use it\n\n## Steps\n\n### 1. Call the helper\n"
    plan += "Touches: `shop/orders.py:4`, `shop/helpers.py` (`brand_new`)\n"
    turns = [repl("print(repo.grep('brand_new'))"), repl(f"plan = {json.dumps(plan)}\nFINAL_VAR('plan')")]
    script = write_script(
        tmp_path / "s.json",
        conversations=[{"match": "before", "turns": turns}, {"match": "after", "turns": turns}],
    )
    await open_repo(lsp, small_repo, script)
    await status_when(lsp, lambda s: s["index"]["state"] == "ready")
    before = await command(lsp, wire.PLAN, {"goal": "before"})
    assert [u["text"] for u in before["steps"][0]["unverified"]] == ["shop/helpers.py", "brand_new"]

    helpers = small_repo / "shop" / "helpers.py"
    helpers.write_text("def brand_new():\n    return 1\n")
    lsp.text_document_did_save(
        types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(helpers.as_uri()))
    )
    after = await command(lsp, wire.PLAN, {"goal": "after"})
    assert after["steps"][0]["unverified"] == []
    assert len(after["steps"][0]["locations"]) == 3


async def test_settings_change_applies_to_the_next_run_and_a_bad_one_is_refused(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "s.json",
        replies=[repl("x = len(repo.files())\nprint(x)"), "Best guess: shop/retry.py:3"],
    )
    await open_repo(lsp, small_repo, script)
    lsp.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"reporlm": {"budget": {"maxIterations": 1}}})
    )
    await status_when(lsp, lambda s: s["budget"]["max_iterations"] == 1)
    result = await command(lsp, wire.ASK, {"question": "q"})
    assert result["partial"] is True and result["reason"] == "iterations"
    assert result["answer"] == "Best guess: shop/retry.py:3"

    # Refused: an unknown provider, and a key sent by the client. The settings before stay.
    secret = "sk-live-do-not-echo-0123456789"
    for bad in ({"provider": "nope"}, {"apiKey": secret}):
        before = len(lsp.messages)
        lsp.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=bad))
        await wait_until(lambda b=before: len(lsp.messages) > b, "the error message")
    refusals = [m.message for m in lsp.messages]
    assert "unknown provider 'nope'" in refusals[-2]
    assert "'apiKey' is not accepted" in refusals[-1] and "environment" in refusals[-1]
    assert all(secret not in m for m in refusals + [m.message for m in lsp.log_messages])
    status = await command(lsp, wire.STATUS)
    assert status["provider"] == "scripted" and status["budget"]["max_iterations"] == 1
    assert status["configuration_error"] and secret not in json.dumps(status)

    # null unsets what the client set: back to the default budget.
    lsp.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"budget": None}))
    await status_when(lsp, lambda s: s["budget"]["max_iterations"] == 30 and not s["configuration_error"])


async def test_bad_calls_get_clear_errors_and_the_server_keeps_serving(
    lsp: LanguageClient, small_repo: Path, tmp_path: Path
) -> None:
    await open_repo(lsp, small_repo, write_script(tmp_path / "s.json", replies=[]))

    async def error_of(name: str, argument: object) -> JsonRpcException:
        with pytest.raises(JsonRpcException) as caught:
            await command(lsp, name, argument)
        return caught.value

    unknown = await error_of("reporlm.server.nope", {})
    assert unknown.code == -32602 and "unknown command 'reporlm.server.nope'" in unknown.message
    assert "reporlm.server.ask" in unknown.message
    assert (await error_of(wire.ASK, {"scope": "shop"})).message == "question is required: a non-empty string"
    assert (
        "unknown budget limit(s): max_iterationz"
        in (await error_of(wire.ASK, {"question": "q", "budget": {"max_iterationz": 3}})).message
    )
    scope = await error_of(wire.ASK, {"question": "q", "scope": "nowhere"})
    assert scope.code == -32602 and scope.message == "no such folder: nowhere"
    outside = await error_of(
        wire.EXPLAIN, {"uri": "file:///etc/passwd", "position": {"line": 0, "character": 0}}
    )
    assert outside.code == -32602 and "outside the repository" in outside.message
    blank = await error_of(
        wire.EXPLAIN,
        {"uri": (small_repo / "shop/retry.py").as_uri(), "position": {"line": 1, "character": 0}},
    )
    assert "no symbol at shop/retry.py:2:1" in blank.message

    # A request whose params do not fit the method still gets an answer.
    malformed = send_raw(
        lsp,
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": "bad-1",
                "method": "workspace/executeCommand",
                "params": {"arguments": []},
            }
        ).encode(),
        request_id="bad-1",
    )
    with pytest.raises(JsonRpcException) as caught:
        await asyncio.wait_for(malformed, 30)
    assert (
        caught.value.code == -32602 and "malformed workspace/executeCommand request" in caught.value.message
    )
    # Not even JSON: nothing to answer, but nothing breaks either.
    send_raw(lsp, b"{this is not json")

    status = await command(lsp, wire.STATUS)
    assert status["runs"]["active"] == 0


async def test_provider_errors_have_their_code_and_keys_from_the_environment_never_leak(
    small_repo: Path, tmp_path: Path, fake_api: FakeAPI
) -> None:
    from pytest_lsp import ClientServerConfig

    from .conftest import make_client, serve_command, server_env

    secret = "sk-env-secret-abcdef123456"
    fake_api.always(401, {"error": {"message": f"bad key {secret}", "type": "invalid_request_error"}})
    env = {**server_env(tmp_path), "OPENAI_API_KEY": secret}
    config = ClientServerConfig(server_command=serve_command(), client_factory=make_client, server_env=env)
    client = await config.start()
    try:
        await open_repo(client, small_repo, provider="openai", base_url=fake_api.url + "/v1", model="m")
        status = await command(client, wire.STATUS)
        assert status["api_key_set"] is True and secret not in json.dumps(status)
        with pytest.raises(JsonRpcException) as caught:
            await command(client, wire.ASK, {"question": "q"})
        assert caught.value.code == wire.ErrorCodes.PROVIDER
        assert "the model provider failed" in caught.value.message
        # The key went to the provider, as it must, and nowhere else.
        assert fake_api.received[0].headers["authorization"] == f"Bearer {secret}"
        seen = json.dumps([caught.value.message, events(client), [m.message for m in client.log_messages]])
        assert secret not in seen
    finally:
        await client.shutdown_session()
        await client.stop()
