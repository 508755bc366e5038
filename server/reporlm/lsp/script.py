"""A script of model replies in a JSON file, for tests and benchmarks of the server process.

A test cannot hand a Python object to a server it starts as a child process, so the `scripted`
provider reads its replies from the file named by the `script` server option (honoured for that
provider only). The file holds:

    {
      "latency": 0.0,
      "replies": ["```repl\\nprint(1)\\n```", {"error": "overloaded", "status": 529}, "FINAL(done)"],
      "conversations": [{"match": "retries", "turns": ["```repl\\n...\\n```", "FINAL(...)"]}]
    }

`replies` are used in order by whichever call comes next. `conversations` answer the calls that
remain: the first whose `match` (a regex) is found in the conversation's opening user messages (the
repository context and the question) gives
its turn number n (counting the model's earlier replies in that conversation) its `turns[n]`, so
concurrent runs each follow their own script. A reply is a string, or `{"error": message,
"status": code}` to fail like a provider. `latency` seconds pass per call without blocking.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reporlm.config import ConfigError
from reporlm.llm.base import Message, ModelClient, ProviderError
from reporlm.llm.registry import make_client
from reporlm.llm.scripted import ScriptExhausted


def load_script(path: str | Path) -> ModelClient:
    """A `scripted` client playing the script in `path`; ConfigError when the file is unusable."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the model script {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"the model script {path} must hold a JSON object")
    replies = [_reply(r) for r in data.get("replies", [])]
    conversations = [
        (re.compile(str(c.get("match", ""))), [_reply(t) for t in c.get("turns", [])])
        for c in data.get("conversations", [])
    ]
    latency = float(data.get("latency", 0.0))

    def by_conversation(messages: Sequence[Message]) -> str:
        opening = []
        for m in messages:
            if m.role == "assistant":
                break
            if m.role == "user":
                opening.append(m.content)
        first = "\n".join(opening)
        turn = sum(m.role == "assistant" for m in messages)
        for pattern, turns in conversations:
            if pattern.search(first):
                if turn >= len(turns):
                    raise ScriptExhausted(f"conversation {pattern.pattern!r} has no turn {turn + 1}")
                reply = turns[turn]
                if isinstance(reply, BaseException):
                    raise reply
                return reply
        raise ScriptExhausted(f"no scripted reply for a conversation starting {first[:200]!r}")

    return make_client(
        "scripted",
        replies=replies,
        latency=latency,
        responder=by_conversation if conversations else None,
    )


def _reply(raw: Any) -> str | ProviderError:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict) and "error" in raw:
        status = raw.get("status")
        return ProviderError(str(raw["error"]), status=int(status) if status is not None else None)
    raise ConfigError(f"a scripted reply is a string or {{'error': ...}}, not {raw!r}")
