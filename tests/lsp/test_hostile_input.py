"""What a broken or hostile client sends gets a clear answer, never a dead or deaf server.

Each test writes bytes a fuzzer would, then checks the answer (or the log line when there is no
one to answer) and that the server still serves: a `status` comes back after it, and nothing but
protocol frames ever reaches stdout.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from .conftest import RawClient, frame, status_request

INVALID_REQUEST, PARSE_ERROR, NOT_INITIALIZED, INVALID_PARAMS = -32600, -32700, -32002, -32602


@pytest_asyncio.fixture
async def raw(tmp_path: Path) -> AsyncIterator[RawClient]:
    client = await RawClient.start(tmp_path)
    try:
        yield client
    finally:
        if client.process.returncode is None:
            client.process.kill()
            await client.process.wait()


async def still_serving(raw: RawClient, msg_id: str) -> None:
    status = await raw.status(msg_id)
    assert status["result"]["server"]["name"] == "reporlm"


async def test_a_huge_content_length_is_refused_and_the_server_goes_on(
    raw: RawClient, small_repo: Path
) -> None:
    await raw.initialize(small_repo)
    raw.send(b"Content-Length: 99999999999999\r\n\r\n{}")
    await still_serving(raw, "after-huge")
    raw.send(b"Content-Length: 16777217\r\n\r\n" + b" " * 100)  # one byte over the limit
    await still_serving(raw, "after-over")
    assert any("a frame of 99999999999999 bytes, over the limit" in line for line in raw.logs())
    code, _ = await raw.close()
    assert code == 1, "the input ended without shutdown and exit: not a clean stop"
    assert raw.stray == b""


async def test_a_bad_header_without_its_line_end_does_not_make_the_server_deaf(
    raw: RawClient, small_repo: Path
) -> None:
    await raw.initialize(small_repo)
    raw.send(b"Content-Length: 10\r\nX-Bad")  # no CRLF: the next message's header follows on the line
    await still_serving(raw, "after-bad-header")
    raw.send(b"Content-Length: 5")
    await still_serving(raw, "after-no-crlf")
    raw.send(b"Content-Length: nope\r\n\r\n{}")
    await still_serving(raw, "after-bad-length")
    raw.send(b"garbage \x00\xff that is no header at all")
    await still_serving(raw, "after-garbage")
    assert any("bytes before a header" in line for line in raw.logs())


async def test_a_frame_longer_than_its_body_does_not_swallow_the_next_message(
    raw: RawClient, small_repo: Path
) -> None:
    await raw.initialize(small_repo)
    raw.send(b'Content-Length: 100000\r\n\r\n{"jsonrpc": "2.0"}')
    # Answered now, not once 100,000 more bytes have come.
    await still_serving(raw, "right-after")
    raw.send(b'Content-Length: 3\r\n\r\n{"jsonrpc": "2.0", "id": "cut", "method": "shutdown"}')
    await still_serving(raw, "after-short")
    assert not [r for r in raw.replies() if r.get("id") == "cut"], "a cut message is no request"


async def test_only_top_level_messages_are_messages(raw: RawClient, small_repo: Path) -> None:
    await raw.initialize(small_repo)
    nested = {"jsonrpc": "2.0", "id": "nested-1", "method": "initialize", "params": 3}
    inner = {"jsonrpc": "2.0", "id": "nested-2", "method": "shutdown"}
    params = {"command": "reporlm.server.status", "arguments": [{"folder": None, "x": nested}], "y": inner}
    raw.send({"jsonrpc": "2.0", "id": "outer", "method": "workspace/executeCommand", "params": params})
    assert "result" in await raw.reply("outer")

    raw.send([status_request("in-batch-1"), status_request("in-batch-2")])
    batch = await raw.reply(None)
    assert batch["error"]["code"] == INVALID_REQUEST and "batch" in batch["error"]["message"]
    await still_serving(raw, "after")
    ids = {r.get("id") for r in raw.replies()}
    assert ids == {"init", "outer", None, "after"}, "no answer to an id that was never a request"


async def test_requests_before_initialize_and_after_shutdown_get_errors(
    raw: RawClient, small_repo: Path
) -> None:
    raw.send(status_request("early"))
    early = await raw.reply("early")
    assert early["error"]["code"] == NOT_INITIALIZED
    assert early["error"]["message"] == (
        "the server is not initialized: workspace/executeCommand before initialize"
    )
    raw.send({"jsonrpc": "2.0", "method": "workspace/didChangeConfiguration", "params": {"settings": {}}})

    await raw.initialize(small_repo)
    again = {"jsonrpc": "2.0", "id": "init-2", "method": "initialize", "params": {"capabilities": {}}}
    raw.send(again)
    assert (await raw.reply("init-2"))["error"]["code"] == INVALID_REQUEST

    raw.send({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"})
    raw.send(status_request("late"))
    late = await raw.reply("late")
    assert late["error"]["code"] == INVALID_REQUEST and "after shutdown" in late["error"]["message"]
    assert (await raw.reply("bye"))["result"] is None
    raw.send({"jsonrpc": "2.0", "method": "exit"})
    code, _ = await raw.close()
    assert code == 0


async def test_messages_of_the_wrong_shape_get_invalid_request_or_parse_error(
    raw: RawClient, small_repo: Path
) -> None:
    await raw.initialize(small_repo)
    cases = [
        (
            {"jsonrpc": "2.0", "id": "m1", "method": 5, "params": {}},
            "m1",
            INVALID_REQUEST,
            "method must be a string",
        ),
        ({"jsonrpc": "2.0", "id": "m2", "method": ["x"]}, "m2", INVALID_REQUEST, "method must be a string"),
        (
            {"jsonrpc": "1.0", "id": "m3", "method": "shutdown"},
            "m3",
            INVALID_REQUEST,
            'jsonrpc must be "2.0"',
        ),
        (
            {"jsonrpc": "2.0", "id": "m4", "method": "shutdown", "params": 7},
            "m4",
            INVALID_REQUEST,
            "params must",
        ),
        (
            {"jsonrpc": "2.0", "id": "m5", "method": "initialized", "params": {}},
            "m5",
            INVALID_REQUEST,
            "notification",
        ),
        ({"jsonrpc": "2.0", "id": True, "method": "shutdown"}, None, INVALID_REQUEST, "id must be"),
        ({"jsonrpc": "2.0", "id": "m7", "method": "textDocument/nope"}, "m7", -32601, "nope"),
    ]
    for message, msg_id, code, text in cases:
        raw.send(message)
        reply = await raw.reply(msg_id)
        assert reply["error"]["code"] == code and text in reply["error"]["message"], (message, reply)
        raw.messages.remove(reply)
    params = {"command": "reporlm.server.ask", "arguments": [{"question": 5}]}
    raw.send({"jsonrpc": "2.0", "id": "typed", "method": "workspace/executeCommand", "params": params})
    typed = await raw.reply("typed")
    assert typed["error"] == {"code": INVALID_PARAMS, "message": "question is required: a non-empty string"}
    bad_params = {
        "jsonrpc": "2.0",
        "id": "shape",
        "method": "workspace/executeCommand",
        "params": {"command": 3},
    }
    raw.send(bad_params)
    assert (await raw.reply("shape"))["error"]["code"] == INVALID_PARAMS

    for body in (b"{this is not json", b'{"jsonrpc": "2.0", "id": NaN}', b"\xff\xfe", b"[" * 100_000, b"7"):
        raw.send(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        reply = await raw.reply(None)
        assert reply["error"]["code"] in (PARSE_ERROR, INVALID_REQUEST), (body[:20], reply)
        raw.messages.remove(reply)
    # Not a request: a notification of the wrong shape, a response to nothing. Logged, not answered.
    raw.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": 5}})
    raw.send({"jsonrpc": "2.0", "id": "never-sent", "result": {}})
    await still_serving(raw, "after")
    assert [r.get("id") for r in raw.replies()] == ["init", "typed", "shape", "after"]
    assert raw.stray == b""


async def test_a_flood_of_malformed_messages_is_logged_in_a_few_lines(
    raw: RawClient, small_repo: Path
) -> None:
    await raw.initialize(small_repo)
    flood = b"".join(
        frame({"jsonrpc": "2.0", "method": "textDocument/didClose", "params": {"x": i}}) for i in range(3000)
    )
    raw.send(flood + b"Content-Length: 3\r\n\r\n{{{" * 2000)
    await still_serving(raw, "after-flood")
    code, stderr = await raw.close()
    assert code == 1
    # Each kind of complaint a few times, then counted: not 5,000 lines to the client and to stderr.
    logs = raw.logs()
    assert len(logs) < 30, logs
    assert any("malformed textDocument/didClose notification" in line for line in logs)
    assert all("\n" not in line and "Traceback" not in line for line in logs)
    assert len(stderr.splitlines()) < 40, stderr[-3000:]
    assert raw.stray == b""


async def test_a_nul_filled_or_binary_body_is_a_parse_error(raw: RawClient, small_repo: Path) -> None:
    await raw.initialize(small_repo)
    for body in (b"\x00" * 64, bytes(range(256)), json.dumps({"jsonrpc": "2.0"}).encode("utf-16")):
        raw.send(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    await still_serving(raw, "after")
    errors = [r for r in raw.replies() if r.get("id") is None]
    assert len(errors) == 3 and {e["error"]["code"] for e in errors} <= {PARSE_ERROR, INVALID_REQUEST}


async def test_wrong_values_in_command_fields_are_invalid_params_not_internal_errors(
    raw: RawClient, small_repo: Path
) -> None:
    await raw.initialize(small_repo)
    cases = [
        (
            {"question": "q", "budget": {"max_seconds": "soon"}},
            "budget: max_seconds must be a number ≥ 0, not 'soon'",
        ),
        ({"question": "q", "budget": {"maxIterations": 2.5}}, "max_iterations must be a whole number ≥ 0"),
        ({"question": "q", "budget": {"max_cost_usd": [1]}}, "max_cost_usd must be a number ≥ 0"),
        ({"question": "q", "budget": {"max_depth": -1}}, "max_depth must be a whole number ≥ 0, not -1"),
        (
            {"question": "q", "budget": {"max_sub_calls": True}},
            "max_sub_calls must be a whole number ≥ 0, not True",
        ),
        ({"question": "q", "budget": {"max_seconds": 10**400}}, "max_seconds must be at most 1e+15"),
        ({"question": "q", "scope": "x" * 10_000}, "scope is 10,000 characters long"),
        ({"question": "q", "folder": "f" * 5000}, "folder is 5,000 characters long"),
    ]
    for n, (argument, expected) in enumerate(cases):
        params = {"command": "reporlm.server.ask", "arguments": [argument]}
        raw.send({"jsonrpc": "2.0", "id": n, "method": "workspace/executeCommand", "params": params})
        error = (await raw.reply(n))["error"]
        assert error["code"] == INVALID_PARAMS and expected in error["message"], (argument, error)


async def test_a_lone_surrogate_is_replaced_in_what_is_read_and_kept_in_the_id(
    raw: RawClient, small_repo: Path
) -> None:
    await raw.initialize(small_repo)
    # Valid JSON that no UTF-8 can hold: the scope names no folder, said in well-formed text.
    body = (
        b'{"jsonrpc": "2.0", "id": "s\\ud800", "method": "workspace/executeCommand", "params": '
        b'{"command": "reporlm.server.ask", "arguments": [{"question": "q", "scope": "a\\udc00b"}]}}'
    )
    raw.send(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    reply = await raw.reply("s\ud800")
    assert reply["error"] == {"code": INVALID_PARAMS, "message": "no such folder: a\ufffdb"}


async def test_a_dollar_cap_sent_with_a_command_is_refused_when_the_model_has_no_price(
    raw: RawClient, small_repo: Path
) -> None:
    # A billed provider with a model the price table does not know: the cap could not be enforced.
    await raw.initialize(small_repo, provider="openai", model="my-model", baseUrl="https://models.invalid/v1")
    params = {"command": "reporlm.server.ask", "arguments": [{"question": "q", "budget": {"maxCostUsd": 1}}]}
    raw.send({"jsonrpc": "2.0", "id": "cap", "method": "workspace/executeCommand", "params": params})
    error = (await raw.reply("cap"))["error"]
    assert error["code"] == INVALID_PARAMS and "cannot be enforced" in error["message"], error
