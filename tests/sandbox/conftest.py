"""Fixtures for the sandbox tests: a fake host (handler), a sandbox factory, process inspection."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

try:
    import reporlm  # noqa: F401
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "server"))

from reporlm.sandbox import IsolationOptions, Sandbox, SandboxLimits

FUNCTIONS = {
    "repo.files": "repo.files(pattern='**/*', under=None) -> list[str]\n\nTracked text files.",
    "repo.read": "repo.read(path, start=None, end=None) -> str\n\nFile text.",
    "repo.grep": "repo.grep(regex, glob=None, under=None, max_results=200) -> list[Hit]\n\nMatches.",
    "repo.git.log": "repo.git.log(path=None, n=20) -> list[Commit]\n\nHistory.",
    "llm_query": "llm_query(prompt) -> str\n\nOne sub-model call.",
    "llm_query_batched": "llm_query_batched(prompts) -> list[str]\n\nMany sub-model calls.",
    "rlm_query": "rlm_query(question, scope=None) -> str\n\nA child RLM.",
}

# The layer configurations the escape battery runs under: every barrier must hold in each.
LAYERS = {
    "all-layers": IsolationOptions(),
    "no-audit-hook": IsolationOptions(audit_hook=False),
    "kernel-namespaces-only": IsolationOptions(audit_hook=False, seccomp=False),
}


@dataclass(frozen=True)
class Hit:
    path: str
    line: int
    text: str


class FakeHost:
    """Answers the worker's calls like the engine would, and records them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Any], dict[str, Any]]] = []

    async def __call__(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        self.calls.append((name, args, kwargs))
        if name == "repo.grep":
            return [Hit("a.py", 3, "x = 1"), Hit("b.py", 10, "y = 2")]
        if name == "repo.read":
            path = args[0] if args else kwargs.get("path")
            if path == "missing.py":
                raise FileNotFoundError(f"no such file in the repository: {path}")
            if path == "secret.py":
                raise PermissionError("outside the scope")
            if path == "weird":
                raise _CustomError("custom failure")
            return f"text of {path}"
        if name == "llm_query":
            return f"answer to {args[0]!r}"
        if name == "llm_query_batched":
            return [f"answer to {p!r}" for p in args[0]]
        if name == "repo.files":
            return ["a.py", "b.py"]
        return {"name": name, "args": args, "kwargs": kwargs}


class _CustomError(Exception):
    pass


SandboxFactory = Callable[..., Awaitable[Sandbox]]


@pytest.fixture
def host() -> FakeHost:
    return FakeHost()


@pytest.fixture
async def make_sandbox(host: FakeHost) -> AsyncIterator[SandboxFactory]:
    started: list[Sandbox] = []

    async def make(limits: SandboxLimits | None = None, options: IsolationOptions | None = None) -> Sandbox:
        sandbox = await Sandbox.start(
            functions=FUNCTIONS,
            handler=host,
            limits=limits or SandboxLimits(wall_seconds=10, cpu_seconds=10, memory_mb=512),
            options=options or IsolationOptions(),
        )
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        await sandbox.close()


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    return await make_sandbox()


@pytest.fixture(params=list(LAYERS), ids=list(LAYERS))
async def layered(request: pytest.FixtureRequest, make_sandbox: SandboxFactory) -> Sandbox:
    """A sandbox under each layer configuration in turn."""
    return await make_sandbox(options=LAYERS[request.param])


def children(pid: int) -> list[int]:
    """Direct children of a process, from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children(current)
    return tree


def alive(pid: int) -> bool:
    """True for a running process; a zombie or a missing pid counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


async def run_ok(sandbox: Sandbox, code: str) -> str:
    """Run a block that must succeed; returns its output."""
    result = await sandbox.execute(code)
    assert result.error is None, result.output
    return result.output


def is_root() -> bool:
    return os.geteuid() == 0
