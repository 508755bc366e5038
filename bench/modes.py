"""The three ways the harness answers a question, each returning the same `Outcome`.

- rlm: `reporlm ask --json` in a subprocess, exactly as a user or a CI job runs it, so whatever path
  the CLI takes (in-process engine today, the language server tomorrow) is what gets measured.
- direct: one call to the same root model with as much of the repository as fits its window.
- retrieval: one call with the BM25 top chunks that fit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.baselines import Context, Index, direct_context, estimate_tokens, retrieval_context
from reporlm.app import LOCAL_CONTEXT_TOKENS, build_models
from reporlm.config import Settings
from reporlm.engine.rlm import Models
from reporlm.llm.base import Message, ProviderError, Usage
from reporlm.workspace import Repo

log = logging.getLogger(__name__)

MODES: tuple[str, ...] = ("rlm", "direct", "retrieval")

CONTEXT_TOKENS = {"local": LOCAL_CONTEXT_TOKENS, "anthropic": 200_000, "openai": 128_000}
"""The window the one-call baselines fill, per provider, when --context-tokens does not say."""

SYSTEM_PROMPT = (
    "You answer questions about a code repository. Parts of it are shown below, each headed by its "
    "path and with every line numbered; the numbers are not part of the code. Answer from what is "
    "shown, exactly in the format the question asks for."
)


@dataclass
class Outcome:
    """What one question cost and produced, in any mode."""

    answer: str = ""
    partial: bool = False
    reason: str = "final"
    root: Usage = field(default_factory=Usage)
    sub: Usage = field(default_factory=Usage)
    iterations: int = 0
    sub_calls: int = 0
    seconds: float = 0.0
    trace_file: str | None = None
    error: str | None = None
    context: dict[str, Any] | None = None
    """What the one-call baselines showed: pieces, files shown of total, estimated tokens."""


class Mode(Protocol):
    name: str

    async def answer(
        self, prompt: str, query: str, repo: Path, roots: tuple[str, ...], trace: Path
    ) -> Outcome:
        """Answer ``prompt`` (the question plus its answer format) about ``repo``; ``query`` is the
        bare question, what retrieval ranks by; ``roots`` the library's source folders."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class RunConfig:
    """The model side of a run: the same for every question, stored in run.json."""

    mode: str
    provider: str
    model: str
    sub_model: str
    base_url: str | None = None
    context_tokens: int = LOCAL_CONTEXT_TOKENS
    max_tokens: int = 1024
    """Answer tokens of a one-call baseline (reserved out of the window)."""
    cli_flags: tuple[str, ...] = ()
    """Extra `reporlm ask` flags of an rlm run: budgets such as --max-iterations 12."""
    question_timeout: float = 3600.0


class RlmMode:
    name = "rlm"

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    def command(self, prompt: str, repo: Path, trace: Path) -> list[str]:
        c = self.config
        cmd = [sys.executable, "-P", "-m", "reporlm", "ask", prompt, "--repo", str(repo), "--json"]
        cmd += [
            "--trace",
            str(trace),
            "--provider",
            c.provider,
            "--model",
            c.model,
            "--sub-model",
            c.sub_model,
        ]
        if c.base_url:
            cmd += ["--base-url", c.base_url]
        return cmd + list(c.cli_flags)

    async def answer(
        self, prompt: str, query: str, repo: Path, roots: tuple[str, ...], trace: Path
    ) -> Outcome:
        started = time.perf_counter()
        # Its own session, so a Ctrl-C meant for the harness reaches the child only through us.
        proc = await asyncio.create_subprocess_exec(
            *self.command(prompt, repo, trace),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.config.question_timeout)
        except TimeoutError:
            return Outcome(
                error=f"timed out after {self.config.question_timeout:g} s",
                seconds=time.perf_counter() - started,
                trace_file=str(trace),
            )
        finally:
            if proc.returncode is None:
                await _stop(proc)
        seconds = time.perf_counter() - started
        stderr = err.decode("utf-8", "replace").strip()
        try:
            data = json.loads(out)
        except ValueError:
            tail = "\n".join(stderr.splitlines()[-5:])
            return Outcome(error=f"reporlm ask exited {proc.returncode}: {tail}", seconds=seconds)
        usage = data.get("usage", {})
        return Outcome(
            answer=data.get("answer", ""),
            partial=bool(data.get("partial")),
            reason=data.get("reason", ""),
            root=_usage(usage.get("root")),
            sub=_usage(usage.get("sub")),
            iterations=int(data.get("iterations", 0)),
            sub_calls=int(data.get("sub_calls", 0)),
            seconds=seconds,
            trace_file=data.get("trace_file") or str(trace),
        )

    async def aclose(self) -> None:
        pass


class OneCallMode:
    """direct or retrieval: build a context, make one call to the root model, nothing else."""

    def __init__(self, config: RunConfig, settings: Settings, models: Models | None = None) -> None:
        self.name = config.mode
        self.config = config
        self.models = models or build_models(settings)
        self._indexes: dict[Path, Index] = {}

    def index(self, repo: Path, roots: tuple[str, ...]) -> Index:
        if repo not in self._indexes:
            self._indexes[repo] = Index(Repo(repo), roots)
        return self._indexes[repo]

    def build_context(
        self, prompt: str, query: str, repo: Path, roots: tuple[str, ...], budget: int
    ) -> Context:
        index = self.index(repo, roots)
        if self.name == "direct":
            return direct_context(index, query, budget)
        return retrieval_context(index, query, budget)

    async def answer(
        self, prompt: str, query: str, repo: Path, roots: tuple[str, ...], trace: Path
    ) -> Outcome:
        started = time.perf_counter()
        c = self.config
        overhead = estimate_tokens(SYSTEM_PROMPT + prompt) + 64  # chat template and headers
        budget = c.context_tokens - c.max_tokens - overhead
        outcome = Outcome(iterations=1, trace_file=str(trace))
        shown: list[str] = []
        # A context estimated to fit may still not (a tokenizer denser than the estimate): shrink and retry.
        for _attempt in range(3):
            context = await asyncio.to_thread(self.build_context, prompt, query, repo, roots, max(0, budget))
            outcome.context = context.describe()
            shown = context.pieces
            messages = [
                Message("system", SYSTEM_PROMPT),
                Message("user", f"{context.text}\n\n{prompt}"),
            ]
            try:
                completion = await self.models.root.complete(
                    messages, model=self.models.root_model, max_tokens=c.max_tokens
                )
            except ProviderError as exc:
                if "context" in str(exc).lower() and budget > 1000:
                    budget = int(budget * 0.7)
                    outcome.context["shrunk"] = True
                    continue
                outcome.error = f"{type(exc).__name__}: {exc}"
                break
            outcome.answer = completion.text
            outcome.root = completion.usage
            outcome.partial = completion.stop_reason in ("length", "max_tokens")
            outcome.reason = "max_tokens" if outcome.partial else "final"
            break
        outcome.seconds = time.perf_counter() - started
        _write_trace(trace, self.name, prompt, outcome, shown)
        return outcome

    async def aclose(self) -> None:
        clients = {id(c): c for c in (self.models.root, self.models.sub)}
        for client in clients.values():
            await client.aclose()


def make_mode(config: RunConfig, settings: Settings, models: Models | None = None) -> Mode:
    if config.mode == "rlm":
        return RlmMode(config)
    if config.mode in ("direct", "retrieval"):
        return OneCallMode(config, settings, models)
    raise ValueError(f"unknown mode {config.mode!r}; choose one of {', '.join(MODES)}")


def _usage(raw: dict[str, Any] | None) -> Usage:
    raw = raw or {}
    return Usage(
        input_tokens=int(raw.get("input_tokens", 0)),
        output_tokens=int(raw.get("output_tokens", 0)),
        cache_read_tokens=int(raw.get("cache_read_tokens", 0)),
        cache_write_tokens=int(raw.get("cache_write_tokens", 0)),
        cost_usd=raw.get("cost_usd"),
    )


def _write_trace(trace: Path, mode: str, prompt: str, outcome: Outcome, shown: list[str]) -> None:
    """A short JSONL trace for a one-call run: what was shown (by reference) and what came back."""
    trace.parent.mkdir(parents=True, exist_ok=True)
    events = [
        {"kind": "context", "mode": mode, "question": prompt, **(outcome.context or {}), "shown": shown},
        {
            "kind": "reply" if outcome.error is None else "error",
            "text": outcome.answer if outcome.error is None else outcome.error,
            "input_tokens": outcome.root.input_tokens,
            "output_tokens": outcome.root.output_tokens,
            "seconds": round(outcome.seconds, 3),
        },
    ]
    trace.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """End a `reporlm ask` child and everything it started (its sandbox worker), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
