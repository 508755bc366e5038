"""A session: one repository, one set of models, one sandbox kept alive across questions.

Follow-up questions reuse the REPL (variables persist), the sub-call cache and the loaded models.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from reporlm.engine.budget import Budget, Limits
from reporlm.engine.explain import ExplainResult, explain_question, target_at
from reporlm.engine.options import EngineOptions
from reporlm.engine.plan import PlanResult, parse_plan
from reporlm.engine.prompting import PromptSet, load_prompts
from reporlm.engine.result import RunResult
from reporlm.engine.rlm import Models, RLMRun, Runtime
from reporlm.engine.subcall_cache import SubcallCache
from reporlm.engine.trace import JsonlWriter, Listener, Tracer
from reporlm.sandbox import Sandbox
from reporlm.workspace import Repo

log = logging.getLogger(__name__)


class Session:
    def __init__(
        self,
        repo: Repo,
        models: Models,
        options: EngineOptions | None = None,
        *,
        secrets: Iterable[str] = (),
        owns_clients: bool = True,
        cache: SubcallCache | None = None,
    ) -> None:
        self.repo = repo
        self.models = models
        self.options = options or EngineOptions()
        self._secrets = tuple(secrets)
        self._owns_clients = owns_clients
        self._cache = SubcallCache() if cache is None else cache
        """Sub-call answers by (model, prompt); sessions of one server may share one."""
        self._sandbox: Sandbox | None = None
        self._current: RLMRun | None = None
        self._lock = asyncio.Lock()
        self._variables: list[str] = []
        """Names the model defined in the REPL so far; a follow-up question is told they exist."""

    async def ask(
        self,
        question: str,
        *,
        scope: str | None = None,
        limits: Limits | None = None,
        trace_file: Path | None = None,
        listeners: Iterable[Listener] = (),
        partial_on_cancel: bool = False,
    ) -> RunResult:
        """Answer one question. Runs one at a time per session (the REPL is shared).

        Cancelling the task that awaits this stops the run: a code block in flight is killed with
        its worker (the next question gets a fresh one) and model calls in flight are abandoned.
        With `partial_on_cancel`, a run cancelled once it has started returns a partial result
        (reason "cancelled") instead of raising: for callers that cancel their own task and still
        owe someone an answer, like the language server.
        """
        async with self._lock:
            tracer = Tracer(secrets=self._secrets)
            writer = JsonlWriter(trace_file) if trace_file else None
            if writer:
                tracer.subscribe(writer)
            for listener in listeners:
                tracer.subscribe(listener)
            options = self.options if limits is None else replace(self.options, limits=limits)
            runtime = Runtime(self.models, options, tracer, cache=self._cache)
            repo = self.repo.scoped(scope) if scope else self.repo
            run: RLMRun | None = None
            try:
                if trace_file:
                    await self._prune_traces(trace_file)
                sandbox = await self._ensure_sandbox(runtime)
                note = self._session_note()
                run = RLMRun(
                    runtime, repo, Budget(options.limits), question, sandbox=sandbox, session_note=note
                )
                self._current = run
                result = await run.run()
            except asyncio.CancelledError:
                tracer.emit("error", message="cancelled")
                if not partial_on_cancel or run is None:
                    raise
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()  # this cancellation is answered: the caller gets a result
                result = await run.finish(run.stopped_answer("cancelled"), "cancelled")
            except BaseException as exc:
                tracer.emit("error", message=f"{type(exc).__name__}: {exc}")
                raise
            finally:
                self._current = None
                if writer:
                    writer.close()
            self._variables = run.variables or self._variables
            result.trace_file = str(trace_file) if trace_file else None
            return result

    async def plan(self, goal: str, **ask_options: Any) -> PlanResult:
        """A cross-file change plan for `goal`: ordered steps and risks, each place checked.

        Takes the keyword options of `ask`.
        """
        question = self._prompts().task("plan", goal=goal)
        result = await self.ask(question, **ask_options)
        scope = ask_options.get("scope")
        repo = self.repo.scoped(scope) if scope else self.repo
        plan = await asyncio.to_thread(parse_plan, result.answer, repo)
        return PlanResult(result, plan)

    async def explain(self, path: str, line: int, column: int, **ask_options: Any) -> ExplainResult:
        """Explain the symbol at `path:line` (1-based), `column` (0-based, in characters).

        Raises NothingToExplain for a position with nothing there, WorkspaceError for a bad path.
        """
        target = await asyncio.to_thread(target_at, self.repo, path, line, column)
        result = await self.ask(explain_question(self._prompts(), target), **ask_options)
        return ExplainResult(result, target)

    async def close(self) -> None:
        """Stop the sandbox worker and release the model clients; safe to call twice."""
        if self._sandbox is not None:
            sandbox, self._sandbox = self._sandbox, None
            await sandbox.close()
        if self._owns_clients:
            clients = {id(c): c for c in (self.models.root, self.models.sub)}
            for client in clients.values():
                try:
                    await client.aclose()
                except Exception:
                    log.exception("closing a model client failed")

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _dispatch(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if self._current is None:
            raise RuntimeError("no question is being answered")
        return await self._current.handle_call(name, args, kwargs)

    async def _ensure_sandbox(self, runtime: Runtime) -> Sandbox:
        if self._sandbox is None:
            self._sandbox = await runtime.start_sandbox(self._dispatch)
        return self._sandbox

    async def _prune_traces(self, trace_file: Path) -> None:
        """Apply the retention policy to the folder of the trace this run has just started."""
        retention = self.options.trace_retention
        if retention is None:
            return
        try:
            await asyncio.to_thread(retention.prune, trace_file.parent, keep=trace_file)
        except Exception:  # cleaning up old traces must never stop a run
            log.exception("removing old traces from %s failed", trace_file.parent)

    def _prompts(self) -> PromptSet:
        return load_prompts(self.models.root_model, self.options.prompt_version)

    def _session_note(self) -> str:
        if not self._variables:
            return ""
        return f"\nVariables kept from earlier questions in this session: {', '.join(self._variables[:40])}."
