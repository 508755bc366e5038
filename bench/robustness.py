"""Robustness: hostile LSP traffic against one server, and how far a run overshoots its time budget.

    python -m bench.robustness [--messages 10000] [--seed 1] [--local] [--json OUT]
    (or, with default settings: python -m bench robustness)

1. Hostile traffic. At least `--messages` generated messages go to one `reporlm serve` process
   over stdio: broken framing (huge, lying, missing and garbled Content-Length, headers without
   their CRLF, raw garbage), bodies that are not JSON or not messages (batches, NaN, deep nesting,
   bad UTF-8), wrong types in every envelope field (id, method, params, jsonrpc), wrong types in
   every field of every command (`reporlm.server.ask/plan/explain/status`) and of standard LSP
   requests and notifications, and floods (thousands of bad messages in one write). After every
   200, a `status` round trip. Counted: crashes (the process ended), deaf periods (a status not
   answered within 5 s), requests never answered, malformed replies (not JSON-RPC, or answering an
   id that was never a request's), internal errors (-32603: a bug answered), stdout bytes outside
   protocol frames, the slowest status, and the server's peak RSS (its own, and with its workers).
   Targets: 0, 0, 0, 0, 0, 0, every status within 1 s, RSS under 500 MB.
2. Overshoot: a run whose model call would take minutes, given `max_seconds`; how long after the
   budget its answer comes. (a) A provider that accepts the connection and never answers (a local
   HTTP server, OpenAI API); (b) with `--local`, the embedded model asked for a long answer.
   Target: under 5 s past the budget.

Prints a Markdown table, then the JSON of every figure and count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.figures import Figure, render_table
from reporlm.lsp import wire
from reporlm.lsp.client import HeadlessClient

STATUS_EVERY = 200
DEAF_SECONDS = 5.0
STATUS_TARGET_SECONDS = 1.0
RSS_TARGET_MB = 500
OVERSHOOT_TARGET_SECONDS = 5.0
FRAME_CAP = 16 * 1024 * 1024
"""reporlm.lsp.framing.MAX_FRAME_BYTES, restated: the bench tests the limit, it does not import it."""

# -- the generator ---------------------------------------------------------------------------------


@dataclass
class Hostile:
    """One generated piece of input: the bytes written, and what the server may or must answer."""

    kind: str
    data: bytes
    count: int = 1
    """How many messages it holds (a flood holds many)."""
    ids: set[Any] = field(default_factory=set)
    """Top-level ids in it: replies to these are allowed."""
    expect: set[Any] = field(default_factory=set)
    """Ids of well-framed requests that must be answered."""


def _usable_id(value: Any) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


def frame(body: bytes | Any) -> bytes:
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


WRONG_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, 10**30, -(10**30), "", "x" * 10_000, "\x00nul", "\ud800", "é漢字🙂",
    [], [1, 2], {}, {"a": {"b": [None]}}, "file:///etc/passwd", "../../..", 1e308,
]  # fmt: skip

COMMAND_FIELDS = {
    wire.ASK: {"question": "q", "scope": None, "budget": {"max_iterations": 1}, "folder": None},
    wire.PLAN: {"goal": "g", "scope": None, "budget": {"max_iterations": 1}, "folder": None},
    wire.EXPLAIN: {"uri": "", "position": {"line": 0, "character": 0}, "budget": None, "folder": None},
    wire.STATUS: {"folder": None},
}
BUDGET_KEYS = ["max_iterations", "maxSeconds", "max_cost_usd", "max_depth", "max_sub_calls", "nope"]
LSP_METHODS = [
    "textDocument/didOpen", "textDocument/didChange", "textDocument/didClose", "textDocument/didSave",
    "workspace/didChangeConfiguration", "workspace/didChangeWatchedFiles",
    "workspace/didChangeWorkspaceFolders", "$/cancelRequest", "window/workDoneProgress/cancel",
    "$/setTrace", "initialized", "textDocument/hover", "textDocument/completion", "textDocument/definition",
    "workspace/symbol", "initialize", "workspace/executeCommand", "$/unknown", "custom/method",
]  # fmt: skip
NEVER_SENT = {"shutdown", "exit"}
"""Well-formed, these would end the session the bench measures; they are sent malformed only."""


class Generator:
    def __init__(self, seed: int, uri: str, file_uri: str) -> None:
        self.rng = random.Random(seed)
        self.uri, self.file_uri = uri, file_uri
        self._n = 0
        self.kinds = [
            (self.framing, 20), (self.body, 12), (self.envelope, 14), (self.command, 30),
            (self.lsp, 18), (self.valid_run, 1), (self.flood, 0.1), (self.nested, 3),
            (self.big, 0.2),
        ]  # fmt: skip

    def next_id(self) -> Any:
        self._n += 1
        return f"h{self._n}" if self._n % 2 else 1_000_000 + self._n

    def __iter__(self) -> Iterator[Hostile]:
        makers, weights = zip(*self.kinds, strict=True)
        while True:
            yield self.rng.choices(makers, weights)[0]()

    def wrong(self) -> Any:
        return self.rng.choice(WRONG_VALUES)

    def request(self, kind: str, method: Any, params: Any, *, answered: bool = True) -> Hostile:
        msg_id = self.next_id()
        message = {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}
        return Hostile(kind, frame(message), ids={msg_id}, expect={msg_id} if answered else set())

    # Broken framing: nothing in it is a request that must be answered.
    def framing(self) -> Hostile:
        msg_id = self.next_id()
        good = json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": "workspace/executeCommand",
                           "params": {"command": wire.STATUS, "arguments": [{}]}}).encode()  # fmt: skip
        n = len(good)
        variants = [
            b"Content-Length: 99999999999999\r\n\r\n" + good,
            b"Content-Length: %d\r\n\r\n" % (FRAME_CAP + 1) + good,
            b"Content-Length: %d\r\nX-Bad" % n,
            b"Content-Length: %d" % n,
            b"Content-Length: %d\r\n\r\n" % (n + 5000) + good,
            b"Content-Length: 3\r\n\r\n" + good,
            b"Content-Length: -1\r\n\r\n" + good,
            b"Content-Length: 1e3\r\n\r\n" + good,
            b"Content-Length: \r\n\r\n" + good,
            b"Content-Length: 5\r\nContent-Length: 9\r\n\r\n" + good,
            b"Content-Type: application/json\r\n\r\n" + good,
            b"X-" + b"a" * 10_000 + b": b\r\n\r\n" + good,
            b"X-Pad: a" + b" \t" * 3500 + b"b\r\nContent-Length: %d\r\n\r\n" % n + good,  # may be answered
            bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 300))),
            b"\x00" * 100,
            frame(good) + b"\r\n" * 50,  # stray line ends after a message
            b"content-length:%d\r\n\r\n" % n + good,  # odd but readable: may be answered
            good,  # a body with no header at all
        ]
        return Hostile("framing", self.rng.choice(variants), ids={msg_id})

    # Frames whose bodies are not JSON, or not messages.
    def body(self) -> Hostile:
        msg_id = self.next_id()
        status = {"jsonrpc": "2.0", "id": msg_id, "method": "workspace/executeCommand",
                  "params": {"command": wire.STATUS, "arguments": [{}]}}  # fmt: skip
        variants: list[bytes] = [
            b"{not json", b"", b"null", b"7", b'"a string"', b"true", b"[]",
            b'{"jsonrpc": "2.0", "id": 1, "method": "x", "params": NaN}', b'{"a": Infinity}',
            b"[" * 100_000, b"{" * 50_000, b"1" * 5000, b"\xff\xfe\xfd", json.dumps(status).encode("utf-16"),
            json.dumps(status).encode()[:-1], json.dumps([status, status]).encode(),
        ]  # fmt: skip
        return Hostile("body", frame(self.rng.choice(variants)), ids={msg_id, 1})

    # Every envelope field of a request, wrong.
    def envelope(self) -> Hostile:
        msg_id = self.next_id()
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": "workspace/executeCommand",
                                   "params": {"command": wire.STATUS, "arguments": [{}]}}  # fmt: skip
        key = self.rng.choice(["jsonrpc", "id", "method", "params", "drop"])
        if key == "drop":
            del message[self.rng.choice(["jsonrpc", "id", "method", "params"])]
        else:
            message[key] = self.wrong()
        msg_id = message.get("id")
        ids = {msg_id} if _usable_id(msg_id) else set()
        return Hostile("envelope", frame(message), ids=ids, expect=ids if "method" in message else set())

    # Every field of every command, wrong (and the arguments list itself).
    def command(self) -> Hostile:
        name = self.rng.choice(list(COMMAND_FIELDS))
        argument: dict[str, Any] = dict(COMMAND_FIELDS[name])
        if name == wire.EXPLAIN:
            argument["uri"] = self.file_uri
        target = self.rng.choice([*argument, "position.line", "position.character", "budget.key", "args"])
        arguments: Any = [argument]
        if target == "args":
            arguments = self.rng.choice([None, [], [argument, argument], "x", {"a": 1}, [self.wrong()], 5])
        elif target.startswith("position.") and name == wire.EXPLAIN:
            argument["position"] = {**argument["position"], target.split(".")[1]: self.wrong()}
        elif target == "budget.key":
            argument["budget"] = {self.rng.choice(BUDGET_KEYS): self.wrong()}
        elif target in argument:
            argument[target] = self.wrong()
        params: Any = {"command": name, "arguments": arguments}
        if self.rng.random() < 0.05:
            params = {"command": self.wrong(), "arguments": arguments}
        return self.request(f"command {name.rsplit('.', 1)[1]}", "workspace/executeCommand", params)

    # Standard LSP requests and notifications, with wrong params.
    def lsp(self) -> Hostile:
        method = self.rng.choice(LSP_METHODS)
        document = {"uri": self.file_uri, "version": self.wrong()}
        params = self.rng.choice([
            self.wrong(), {"textDocument": self.wrong()},
            {"textDocument": {"uri": self.wrong(), "text": self.wrong()}},
            {"contentChanges": [{"text": self.wrong()}], "textDocument": document},
            # (never `provider`: unset, it falls back to the embedded model, which the bench does not test)
            {"settings": {"reporlm": {"budget": self.wrong()}}}, {"settings": self.wrong()},
            {"settings": {"maxRuns": self.wrong(), "blockSeconds": self.wrong()}},
            {"event": {"added": [{"uri": self.wrong(), "name": "x"}], "removed": self.wrong()}},
            {"changes": [{"uri": self.wrong(), "type": self.wrong()}]}, {"id": self.wrong()},
            {"token": self.wrong()}, {"value": self.wrong()}, {"processId": self.wrong(), "capabilities": {}},
        ])  # fmt: skip
        if self.rng.random() < 0.5:  # as a notification: nothing to answer
            return Hostile("lsp notification", frame({"jsonrpc": "2.0", "method": method, "params": params}))
        return self.request("lsp request", method, params)

    # Once in a while a run that is fine, so the flood meets live runs and sandbox workers.
    def valid_run(self) -> Hostile:
        kind = self.rng.choice([wire.ASK, wire.PLAN, wire.EXPLAIN])
        argument = {"question": "bench q"} if kind == wire.ASK else {"goal": "bench g"}
        if kind == wire.EXPLAIN:
            argument = {"uri": self.file_uri, "position": {"line": 0, "character": 4}}
        return self.request(
            "valid run", "workspace/executeCommand", {"command": kind, "arguments": [argument]}
        )

    def flood(self) -> Hostile:
        n = self.rng.choice([200, 300, 500])
        one = self.rng.choice([
            frame({"jsonrpc": "2.0", "method": "textDocument/didClose", "params": {"x": 1}}),
            frame(b"{{{"),
            frame({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": "nobody"}}),
            b"Content-Length: 5\r\nX-Bad",
        ])  # fmt: skip
        return Hostile("flood", one * n, count=n)

    # Large frames: an open buffer of 1 MB (fine), and a frame just over the limit, body and all.
    def big(self) -> Hostile:
        if self.rng.random() < 0.1:
            text = "x" * FRAME_CAP
            document = {"uri": self.file_uri, "languageId": "python", "version": 1, "text": text}
            body = json.dumps(
                {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": document}}
            )
            return Hostile("over the frame limit", frame(body.encode()[: FRAME_CAP + 1]))
        text = "def f(x):\n    return x\n" * (1024 * 1024 // 24)
        document = {
            "uri": self.file_uri,
            "languageId": "python",
            "version": self.rng.randrange(10**6),
            "text": text,
        }
        return Hostile(
            "1 MB buffer",
            frame({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": document}}),
        )

    # Request-shaped objects inside a message: only the outer one may be answered.
    def nested(self) -> Hostile:
        inner_id = f"nested-{self._n}"
        inner = {"jsonrpc": "2.0", "id": inner_id, "method": "shutdown"}
        if self.rng.random() < 0.5:
            params = {"command": wire.STATUS, "arguments": [{"folder": None, "inner": inner}], "more": inner}
            return self.request("nested", "workspace/executeCommand", params)
        return Hostile("batch", frame([inner, {**inner, "method": "workspace/executeCommand"}]))


# -- the client ------------------------------------------------------------------------------------


@dataclass
class Tally:
    sent: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    crashes: int = 0
    deaf: int = 0
    stray_bytes: int = 0
    malformed: list[str] = field(default_factory=list)
    internal_errors: list[str] = field(default_factory=list)
    unanswered: int = 0
    unanswered_examples: list[str] = field(default_factory=list)
    statuses: list[float] = field(default_factory=list)
    idle_status: float = 0.0
    peak_rss_mb: float = 0.0
    peak_tree_rss_mb: float = 0.0
    null_id_errors: int = 0
    stderr_lines: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent, "kinds": dict(self.kinds), "crashes": self.crashes, "deaf_periods": self.deaf,
            "stray_stdout_bytes": self.stray_bytes, "malformed_replies": len(self.malformed),
            "malformed_examples": self.malformed[:5], "internal_errors": len(self.internal_errors),
            "internal_error_examples": self.internal_errors[:5], "unanswered_requests": self.unanswered,
            "unanswered_examples": self.unanswered_examples[:5],
            "status_round_trips": len(self.statuses),
            "status_max_ms": round(max(self.statuses, default=0) * 1000, 1),
            "status_median_ms": round(statistics.median(self.statuses) * 1000, 1) if self.statuses else None,
            "idle_status_ms": round(self.idle_status * 1000, 1), "peak_rss_mb": round(self.peak_rss_mb, 1),
            "peak_rss_with_workers_mb": round(self.peak_tree_rss_mb, 1),
            "null_id_errors": self.null_id_errors, "stderr_lines": self.stderr_lines,
        }  # fmt: skip


class Server:
    """One `reporlm serve` over pipes, read strictly: every byte on stdout must be part of a frame."""

    def __init__(self, process: asyncio.subprocess.Process, tally: Tally) -> None:
        self.process = process
        self.tally = tally
        self.replies: dict[Any, dict[str, Any]] = {}
        self.answers: Counter[Any] = Counter()
        self.known: Counter[Any] = Counter()
        """How many messages sent had each top-level id (the generator reuses odd ids like 0 or "")."""
        self._arrived = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    async def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        await asyncio.wait_for(self.process.stdin.drain(), 60)

    async def round_trip(self, msg_id: Any, timeout: float) -> float | None:
        """Seconds until `msg_id` is answered, or None after `timeout`."""
        started = time.perf_counter()
        deadline = started + timeout
        while msg_id not in self.replies:
            if self.process.returncode is not None or time.perf_counter() > deadline:
                return None
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), max(0.0, deadline - time.perf_counter()))
        return time.perf_counter() - started

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            try:
                header = await stdout.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as end:
                self.tally.stray_bytes += len(end.partial)
                return
            except asyncio.LimitOverrunError:
                self.tally.stray_bytes += len(await stdout.read(65536))
                continue
            lines = header[:-4].split(b"\r\n")
            fields = dict(line.split(b": ", 1) for line in lines if b": " in line)
            length = fields.get(b"Content-Length", b"")
            if (
                len(fields) != len(lines)
                or set(fields) - {b"Content-Length", b"Content-Type"}
                or not length.isdigit()
            ):
                self.tally.stray_bytes += len(header)
                continue
            self._check(await stdout.readexactly(int(length)))

    def _check(self, body: bytes) -> None:
        try:
            message = json.loads(body)
        except ValueError:
            self.tally.malformed.append(f"not JSON: {body[:80]!r}")
            return
        problem = reply_problem(message)
        if problem:
            self.tally.malformed.append(f"{problem}: {body[:120]!r}")
            return
        if "method" in message:
            if "id" in message:  # a request to us: answer it, as a client would
                self.process.stdin.write(frame({"jsonrpc": "2.0", "id": message["id"], "result": None}))  # type: ignore[union-attr]
            return
        msg_id = message["id"]
        if msg_id is None:
            self.tally.null_id_errors += 1
        elif msg_id not in self.known:
            self.tally.malformed.append(f"a reply to an id never sent: {msg_id!r}")
        elif self.answers[msg_id] >= self.known[msg_id]:
            self.tally.malformed.append(f"more replies to {msg_id!r} than messages with it")
        else:
            self.answers[msg_id] += 1
            self.replies[msg_id] = message
        error = message.get("error")
        if error and error["code"] == -32603:
            self.tally.internal_errors.append(f"{msg_id!r}: {error['message'][:200]}")
        self._arrived.set()


def reply_problem(message: Any) -> str:
    """What makes `message` something no JSON-RPC client should receive ("" when nothing)."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return "not a JSON-RPC object"
    if "method" in message:
        return "" if isinstance(message["method"], str) else "a method that is no string"
    if "id" not in message or not (message["id"] is None or isinstance(message["id"], int | str)):
        return "a response without a usable id"
    if ("result" in message) == ("error" in message):
        return "a response with both or neither of result and error"
    error = message.get("error")
    if error is not None and not (
        isinstance(error, dict)
        and isinstance(error.get("code"), int)
        and isinstance(error.get("message"), str)
    ):
        return "an error without an integer code and a message"
    return ""


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmHWM, VmRSS) of a process in MB; zeros when it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0, 0.0
    fields = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    values = {k: int(v.split()[0]) / 1024 for k, v in fields if k in ("VmHWM", "VmRSS")}
    return values.get("VmHWM", 0.0), values.get("VmRSS", 0.0)


def tree_rss_mb(pid: int) -> float:
    from reporlm.lsp.watchdog import _children_by_parent

    children = _children_by_parent()
    total, todo, seen = 0.0, [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        total += rss_mb(current)[1]
        todo += children.get(current, [])
    return total


def make_repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    for i in range(20):
        (root / "pkg" / f"mod{i}.py").write_text(
            "".join(f"def func_{i}_{j}(x):\n    return x + {j}\n\n" for j in range(10)), encoding="utf-8"
        )
    return root


async def hostile_traffic(messages: int, seed: int, folder: Path, progress: Callable[[str], None]) -> Tally:
    repo = make_repo(folder / "repo")
    script = folder / "script.json"
    # Whatever a run's budget or the loop's nudges make of it, the script never runs out.
    turns = ["```repl\nprint(repo.read('pkg/mod0.py', 1, 2))\n```"] + ["FINAL(bench: pkg/mod0.py:1)"] * 40
    script.write_text(json.dumps({"conversations": [{"match": "", "turns": turns}]}), encoding="utf-8")
    tally = Tally()
    stderr_path = folder / "server.stderr"
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")},
        "REPORLM_CACHE_DIR": str(folder / "cache"),
    }
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *HeadlessClient.server_command(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=stderr, env=env, limit=1024 * 1024,
        )  # fmt: skip
        server = Server(process, tally)
        sampling = asyncio.ensure_future(_sample_rss(process.pid, tally))
        try:
            await _drive(server, repo, script, messages, seed, progress)
        finally:
            sampling.cancel()
            tally.peak_rss_mb = max(tally.peak_rss_mb, rss_mb(process.pid)[0])
            if process.returncode is None:
                process.kill()
            await process.wait()
    tally.stderr_lines = len(stderr_path.read_bytes().splitlines())
    return tally


async def _drive(
    server: Server, repo: Path, script: Path, messages: int, seed: int, progress: Callable[[str], None]
) -> None:
    tally = server.tally
    options = {
        "provider": "scripted",
        "script": str(script),
        "blockSeconds": 5,
        "budget": {"maxIterations": 3},
    }
    init = {
        "processId": os.getpid(),
        "capabilities": {},  # no progress: the server sends no requests of its own to answer
        "rootUri": repo.as_uri(),
        "initializationOptions": options,
        "workspaceFolders": [{"uri": repo.as_uri(), "name": "repo"}],
    }
    server.known.update(["init", "idle-0", "idle-1"])
    await server.write(frame({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": init}))
    if await server.round_trip("init", 60) is None:
        raise RuntimeError("the server did not answer initialize")
    await server.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    for warm in ("idle-0", "idle-1"):
        await server.write(frame(_status(warm)))
        tally.idle_status = await server.round_trip(warm, 30) or 0.0

    expected: dict[Any, bytes] = {}
    generator = iter(Generator(seed, repo.as_uri(), (repo / "pkg" / "mod0.py").as_uri()))
    batch, rounds = 0, 0
    while tally.sent < messages:
        item = next(generator)
        server.known.update(item.ids)
        expected.update(dict.fromkeys(item.expect, item.data[:300]))
        tally.sent += item.count
        tally.kinds[item.kind] += item.count
        batch += item.count
        await server.write(item.data)
        if batch < STATUS_EVERY and tally.sent < messages:
            continue
        batch, rounds = 0, rounds + 1
        status_id = f"status-{rounds}"
        server.known.update([status_id])
        # As a client would send it, whatever came before: finding it is the server's job.
        await server.write(frame(_status(status_id)))
        seconds = await server.round_trip(status_id, DEAF_SECONDS)
        if seconds is None:
            tally.deaf += 1
            seconds = await server.round_trip(status_id, 60)
            if seconds is None:
                tally.crashes += server.process.returncode is not None
                progress(f"the server stopped answering after {tally.sent} messages")
                break
        tally.statuses.append(seconds)
        if rounds % 10 == 0:
            progress(f"{tally.sent} messages, slowest status {max(tally.statuses) * 1000:.0f} ms")
    # Whatever was asked must be answered; the runs started meanwhile end within their budget.
    deadline = time.perf_counter() + 60
    while expected.keys() - server.replies and time.perf_counter() < deadline:
        if server.process.returncode is not None:
            break
        await asyncio.sleep(0.1)
    missing = expected.keys() - server.replies
    tally.unanswered = len(missing)
    tally.unanswered_examples = [repr(expected[msg_id]) for msg_id in list(missing)[:5]]
    if server.process.returncode is not None:
        tally.crashes = 1


def _status(msg_id: Any) -> dict[str, Any]:
    params = {"command": wire.STATUS, "arguments": [{}]}
    return {"jsonrpc": "2.0", "id": msg_id, "method": "workspace/executeCommand", "params": params}


async def _sample_rss(pid: int, tally: Tally) -> None:
    while True:
        peak, _ = rss_mb(pid)
        tally.peak_rss_mb = max(tally.peak_rss_mb, peak)
        tally.peak_tree_rss_mb = max(tally.peak_tree_rss_mb, tree_rss_mb(pid))
        await asyncio.sleep(0.25)


# -- overshoot past max_seconds --------------------------------------------------------------------


class SilentProvider:
    """An HTTP endpoint that accepts every connection, reads the request and never answers."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(connection)  # kept open, never written to

    def close(self) -> None:
        self._socket.close()
        for connection in self._held:
            connection.close()


async def overshoot(
    options: dict[str, Any], question: str, max_seconds: float, folder: Path, wait: float
) -> float | None:
    """Seconds past `max_seconds` until the ask is answered; None when not within `wait` more."""
    repo = make_repo(folder / f"repo-{len(list(folder.iterdir()))}")
    client = HeadlessClient()
    env = dict(os.environ)
    if options.get("provider") != "local":  # the embedded model's weights live in the user's cache
        env["REPORLM_CACHE_DIR"] = str(folder / "cache")
    await client.start(HeadlessClient.server_command(), env=env)
    stuck = False
    try:
        await client.open(repo, {**options, "budget": {"maxSeconds": max_seconds}})
        started = time.perf_counter()
        try:
            await asyncio.wait_for(client.command(wire.ASK, {"question": question}), max_seconds + wait)
        except TimeoutError:
            stuck = True
            return None
        except Exception:  # an error answer also ends the run: what counts is when it came
            pass
        return time.perf_counter() - started - max_seconds
    finally:
        if stuck and client.process is not None and client.process.returncode is None:
            client.process.kill()  # a run that would not stop: no orderly shutdown either
            await client.process.wait()
        await client.close()


# -- the report ------------------------------------------------------------------------------------


def traffic_figures(t: Tally) -> list[Figure]:
    slowest = max(t.statuses, default=0.0)
    median = statistics.median(t.statuses) if t.statuses else 0.0
    idle = f"idle server {t.idle_status * 1000:.1f} ms"
    n = f"{t.sent:,} hostile messages"
    return [
        Figure(f"{n}: server crashes", str(t.crashes), "0", "–", None, t.crashes == 0),
        Figure(
            f"{n}: deaf periods (status unanswered {DEAF_SECONDS:.0f} s)",
            str(t.deaf),
            "0",
            "–",
            None,
            t.deaf == 0,
        ),
        Figure(f"{n}: requests never answered", str(t.unanswered), "0", "–", None, t.unanswered == 0),
        Figure(f"{n}: malformed replies", str(len(t.malformed)), "0", "–", None, not t.malformed),
        Figure(
            f"{n}: internal errors (-32603)",
            str(len(t.internal_errors)),
            "0",
            "–",
            None,
            not t.internal_errors,
        ),
        Figure(
            f"{n}: stdout bytes outside protocol frames",
            str(t.stray_bytes),
            "0",
            "–",
            None,
            t.stray_bytes == 0,
        ),
        Figure(
            f"status round trip after every {STATUS_EVERY}, slowest of {len(t.statuses)}",
            f"{slowest * 1000:.0f} ms (median {median * 1000:.0f} ms)",
            f"< {STATUS_TARGET_SECONDS:.0f} s",
            idle,
            slowest / t.idle_status if t.idle_status else None,
            bool(t.statuses) and slowest < STATUS_TARGET_SECONDS,
        ),
        Figure(
            "server peak RSS under hostile traffic",
            f"{t.peak_rss_mb:.0f} MB ({t.peak_tree_rss_mb:.0f} MB with workers)",
            f"< {RSS_TARGET_MB} MB",
            "–",
            None,
            t.peak_rss_mb < RSS_TARGET_MB,
        ),
    ]


def overshoot_figure(what: str, seconds: float | None, max_seconds: float, wait: float) -> Figure:
    value = f"> {wait:.0f} s (no answer)" if seconds is None else f"{seconds:.1f} s"
    ok = seconds is not None and seconds < OVERSHOOT_TARGET_SECONDS
    target = f"< {OVERSHOOT_TARGET_SECONDS:.0f} s"
    return Figure(f"overshoot past max_seconds={max_seconds:.0f}, {what}", value, target, "–", None, ok)


async def run(
    messages: int = 10_000, seed: int = 1, local: bool = False, log: Callable[[str], None] | None = None
) -> tuple[list[Figure], dict[str, Any]]:
    progress = log or (lambda text: print(f"robustness: {text}", file=sys.stderr, flush=True))
    with tempfile.TemporaryDirectory(prefix="reporlm-robustness-") as tmp:
        folder = Path(tmp)
        (folder / "traffic").mkdir()
        tally = await hostile_traffic(messages, seed, folder / "traffic", progress)
        figures = traffic_figures(tally)
        details: dict[str, Any] = {"traffic": tally.to_json()}
        runs = folder / "runs"
        runs.mkdir()
        silent = SilentProvider()
        try:
            progress("a provider that never answers")
            options = {"provider": "openai", "baseUrl": silent.url, "model": "m"}
            seconds = await overshoot(options, "Where is func_0_0 defined?", 10.0, runs, 120.0)
        finally:
            silent.close()
        figures.append(overshoot_figure("a provider that never answers", seconds, 10.0, 120.0))
        details["overshoot_silent_provider_s"] = seconds
        if local:
            progress("the embedded model asked for a long answer")
            question = (
                "Write a long, detailed, line by line explanation of every function in this repository."
            )
            seconds = await overshoot({"provider": "local"}, question, 30.0, runs, 300.0)
            figures.append(overshoot_figure("embedded model computing", seconds, 30.0, 300.0))
            details["overshoot_embedded_model_s"] = seconds
    return figures, details


async def run_all() -> list[Figure]:
    figures, _ = await run()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.robustness", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--messages", type=int, default=10_000, help="hostile messages to send (default 10,000)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--local", action="store_true", help="also measure the overshoot with the embedded model"
    )
    parser.add_argument("--json", type=Path, help="also write the figures and counts here")
    args = parser.parse_args(argv)
    figures, details = asyncio.run(run(args.messages, args.seed, args.local))
    payload = {"figures": [f.to_json() for f in figures], "details": details}
    print(render_table(figures))
    print()
    print(json.dumps(payload, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
