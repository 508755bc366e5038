"""The robustness bench's generator and client, on a few hundred messages (so they cannot rot).

What a hostile client sends must never crash the server, make it deaf, or draw a malformed reply;
those counts are behaviour and are checked here. Speed (status latency) is the bench's, not a test's.
"""

from __future__ import annotations

import json
import socket
from itertools import islice
from pathlib import Path

import pytest
from bench.robustness import Generator, SilentProvider, hostile_traffic, reply_problem, traffic_figures


def test_the_generator_makes_every_kind_of_hostile_message_and_is_reproducible() -> None:
    def sample(seed: int) -> list[tuple[str, bytes]]:
        return [(h.kind, h.data) for h in islice(Generator(seed, "file:///r", "file:///r/a.py"), 2000)]

    first = sample(5)
    assert first == sample(5) and first != sample(6)
    kinds = {kind for kind, _ in first}
    assert {
        "framing",
        "body",
        "envelope",
        "lsp request",
        "lsp notification",
        "flood",
        "nested",
        "batch",
    } <= kinds
    assert {"command ask", "command plan", "command explain", "command status"} <= kinds
    framed = [data for kind, data in first if kind.startswith("command")]
    arguments = [json.loads(data.split(b"\r\n\r\n", 1)[1])["params"]["arguments"] for data in framed]
    assert any(not isinstance(a, list) for a in arguments), "the arguments list itself is broken too"
    assert any(isinstance(a, list) and len(a) != 1 for a in arguments)


def test_reply_checks_reject_what_no_json_rpc_client_should_get() -> None:
    assert reply_problem({"jsonrpc": "2.0", "id": 1, "result": None}) == ""
    assert reply_problem({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "x"}}) == ""
    assert reply_problem({"jsonrpc": "2.0", "method": "window/logMessage", "params": {}}) == ""
    assert reply_problem({"jsonrpc": "2.0", "id": 1}) != ""
    assert reply_problem({"jsonrpc": "2.0", "id": 1, "result": 1, "error": {}}) != ""
    assert reply_problem({"jsonrpc": "2.0", "id": 1.5, "result": 1}) != ""
    assert reply_problem({"jsonrpc": "2.0", "id": 1, "error": {"code": "x", "message": "m"}}) != ""
    assert reply_problem([]) != ""


async def test_a_few_hundred_hostile_messages_leave_the_server_serving(tmp_path: Path) -> None:
    tally = await hostile_traffic(400, 3, tmp_path, lambda text: None)
    assert tally.sent >= 400 and tally.statuses, "status round trips were made"
    assert tally.crashes == 0 and tally.deaf == 0 and tally.unanswered == 0, tally.to_json()
    assert tally.malformed == [] and tally.internal_errors == [] and tally.stray_bytes == 0, tally.to_json()
    assert tally.peak_rss_mb > 0
    names = [f.name for f in traffic_figures(tally)]
    assert any("malformed replies" in n for n in names) and any("peak RSS" in n for n in names)


def test_the_silent_provider_accepts_and_never_answers() -> None:
    silent = SilentProvider()
    try:
        host, port = silent.url.removeprefix("http://").split("/")[0].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            connection.settimeout(0.3)
            with pytest.raises(TimeoutError):  # no answer, and the connection stays open
                connection.recv(1)
    finally:
        silent.close()
