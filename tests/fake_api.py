"""A scriptable HTTP server on 127.0.0.1 that the real SDKs talk to (provider client and CLI tests)."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    """Never answer (until the server stops): a provider that accepted the request and went quiet."""


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeAPI:
    """Answers each request with the next queued ``Reply`` (or ``default``) and records the request.

    A reply body may be a callable ``(Received) -> body`` to echo parts of the request.
    """

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default: Reply | None = None
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def queue(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.replies.append(Reply(status, body, headers or {}))

    def always(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.default = Reply(status, body, headers or {})

    def hang(self) -> None:
        """Every request from now on is read and never answered."""
        self.default = Reply(hang=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # releases the requests left hanging
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _next(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            if self.replies:
                return self.replies.popleft()
        if self.default is None:
            return Reply(500, {"error": {"type": "test_error", "message": "no reply queued"}})
        return self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = Received(
                    "POST",
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
                reply = api._next(request)
                if reply.hang:
                    api._stopping.wait()
                    return
                body = reply.body(request) if callable(reply.body) else reply.body
                # bytes go out as they are: replies that are not JSON, or not even whole.
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(reply.status)
                if "content-type" not in {name.lower() for name in reply.headers}:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler


def openai_chat(text: str, prompt_tokens: int = 100, model: str = "m") -> dict[str, Any]:
    """The body of an OpenAI-compatible chat completion that answers `text`."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": 10,
            "total_tokens": prompt_tokens + 10,
        },
    }
