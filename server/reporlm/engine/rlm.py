"""The RLM loop: ask the root model for code, run it in the sandbox, feed the output back, repeat.

One `RLMRun` answers one question over one `repo` (the whole repository, or a folder for a child
run). `Runtime` holds what a run shares with its children: the models, the options, the trace, the
sub-call cache and the concurrency limit.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from reporlm.engine.budget import Budget, BudgetExhausted
from reporlm.engine.citations import verify
from reporlm.engine.options import EngineOptions
from reporlm.engine.parsing import find_code, find_final, normalize_code, truncate
from reporlm.engine.prompting import PromptSet, load_prompts
from reporlm.engine.repl_functions import REPO_FUNCTIONS, describe_all, sandbox_table
from reporlm.engine.result import RunResult
from reporlm.engine.trace import Tracer, preview
from reporlm.llm.base import Message, ModelClient, ProviderError
from reporlm.sandbox import ExecResult, Sandbox
from reporlm.workspace import Repo, WorkspaceError
from reporlm.workspace.tree import human_size

log = logging.getLogger(__name__)

_REPO_METHODS = {f.name.removeprefix("repo.") for f in REPO_FUNCTIONS}
_REPO_PROPERTIES = {f.name.removeprefix("repo.") for f in REPO_FUNCTIONS if f.is_property}
REPO_MAP_TOKENS = 1200
"""Budget of the ranked repository map in the first message: a small model has a 16K window."""
_CODE_FENCES = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)


@dataclass
class Models:
    """Which clients and model names answer: a strong root and a cheap reader may differ."""

    root: ModelClient
    root_model: str
    sub: ModelClient
    sub_model: str


@dataclass
class Runtime:
    models: Models
    options: EngineOptions
    tracer: Tracer
    cache: dict[tuple[str, str], str] = field(default_factory=dict)
    """Sub-call answers by (model, prompt): an unchanged question about unchanged text costs nothing."""
    semaphore: asyncio.Semaphore | None = None

    def __post_init__(self) -> None:
        if self.semaphore is None:
            self.semaphore = asyncio.Semaphore(max(1, self.options.concurrency))

    async def start_sandbox(
        self, handler: Callable[[str, list[Any], dict[str, Any]], Awaitable[Any]]
    ) -> Sandbox:
        return await Sandbox.start(functions=sandbox_table(), handler=handler, limits=self.options.sandbox)


@dataclass
class _Step:
    """What one root turn led to: a final answer, or feedback for the next turn."""

    final: str | None = None
    feedback: str = ""
    nudged: bool = False
    """The model broke the protocol or repeated itself: the next turn samples instead of decoding greedily."""


class RLMRun:
    def __init__(
        self,
        runtime: Runtime,
        repo: Repo,
        budget: Budget,
        question: str,
        *,
        sandbox: Sandbox | None = None,
        session_note: str = "",
    ) -> None:
        self.runtime = runtime
        self.repo = repo
        self.budget = budget
        self.question = question
        self.sandbox = sandbox
        self.session_note = session_note
        self.depth = budget.depth
        self.started = time.monotonic()
        self.prompts: PromptSet = load_prompts(runtime.models.root_model, runtime.options.prompt_version)
        self._seen_code: dict[str, int] = {}
        self._last_output = ""
        self._looked = False
        """Whether the model's code has called anything (repo, llm_query, rlm_query) in this run."""
        self._refused_finals: set[str] = set()
        """Which answer checks have already turned a FINAL down in this run (each does so once)."""
        self.variables: list[str] = []

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> RunResult:
        self.started = time.monotonic()
        self._emit(
            "run_start",
            question=self.question,
            scope=self.repo.scope,
            root_model=self.runtime.models.root_model,
            sub_model=self.runtime.models.sub_model,
            prompt=f"{self.prompts.version}/{self.prompts.family}",
        )
        own_sandbox = self.sandbox is None
        if self.sandbox is None:
            self.sandbox = await self.runtime.start_sandbox(self.handle_call)
        # The map needs the symbol index, which a first run on a large repository builds: off the loop.
        summary = await asyncio.to_thread(describe_repo, self.repo, self.question)
        try:
            messages = [
                Message(
                    "system",
                    self.prompts.system(
                        functions=describe_all(), max_iterations=self.budget.limits.max_iterations
                    ),
                ),
                *(  # the example's end is a prefix every question shares: cacheable
                    Message(role, text, cache=i == len(self.prompts.example))  # type: ignore[arg-type]
                    for i, (role, text) in enumerate(self.prompts.example, 1)
                ),
                Message("user", self._question_message(summary)),
            ]
            answer, reason = await self._loop(messages)
            if answer is None:
                answer = await self._answer_now(messages, reason)
        finally:
            if own_sandbox:
                await self.sandbox.close()
        return self.finish(answer, reason)

    def finish(self, answer: str, reason: str) -> RunResult:
        """The result of this run with `answer`, checked, and the closing trace events.

        Also the way out of a run that was stopped from outside: `finish(stopped_answer(r), r)`.
        """
        partial = reason != "final"
        result = RunResult(
            answer=answer,
            partial=partial,
            reason=reason,
            citations=verify(answer, self.repo),
            iterations=self.budget.spend.iterations,
            sub_calls=self.budget.spend.sub_calls,
            root_usage=self.budget.spend.root_usage,
            sub_usage=self.budget.spend.sub_usage,
            seconds=time.monotonic() - self.started,
            trace_id=self.runtime.tracer.run_id,
        )
        self._emit(
            "final",
            answer=answer,
            partial=partial,
            reason=reason,
            citations=[c.label() for c in result.citations if c.verified],
            unverified=[f"{c.label()} ({c.reason})" for c in result.unverified],
        )
        self._emit(
            "run_end",
            iterations=result.iterations,
            sub_calls=result.sub_calls,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            cost_usd=result.usage.cost_usd,
            seconds=round(result.seconds, 3),
        )
        return result

    def stopped_answer(self, reason: str) -> str:
        """What a run that ends without a final answer returns: why, and the last REPL output."""
        note = f"_No final answer: the run stopped ({reason}) before the model answered._"
        if self._last_output.strip():
            note += "\n\nLast REPL output:\n\n```\n" + truncate(self._last_output.strip(), 2000) + "\n```"
        return note

    async def _loop(self, messages: list[Message]) -> tuple[str | None, str]:
        """Turns until a final answer (returned) or until something runs out (its name returned)."""
        temperature = 0.0
        nudges_in_a_row = 0
        try:
            while self.budget.iterations_left() > 0:
                self.budget.check()
                self.budget.charge_iteration()
                n = self.budget.spend.iterations
                self._emit("iteration", n=n, max=self.budget.limits.max_iterations)
                reply = await self._ask_root(messages, temperature)
                messages.append(Message("assistant", reply))
                step = await self._step(n, reply)
                refusal = self._refuse_final(step.final) if step.final is not None else None
                if refusal is not None:
                    step = _Step(feedback=refusal, nudged=True)
                if step.final is not None:
                    return step.final, "final"
                messages.append(Message("user", step.feedback))
                # Greedy decoding repeats a mistake word for word; a little randomness gets it unstuck.
                temperature = self.runtime.options.retry_temperature if step.nudged else 0.0
                nudges_in_a_row = nudges_in_a_row + 1 if step.nudged else 0
                if nudges_in_a_row >= self.runtime.options.max_nudges_in_a_row:
                    return None, "stuck"
            return None, "iterations"
        except BudgetExhausted as exc:
            self._emit("error", message=str(exc))
            return None, exc.resource

    async def _step(self, n: int, reply: str) -> _Step:
        code = find_code(reply)
        if code is None:
            return await self._step_without_code(reply)
        key = normalize_code(code)
        if key in self._seen_code:
            self._emit("nudge", why="repeated code", previous=self._seen_code[key])
            return _Step(
                feedback=self.prompts.message("repeated_code", previous=self._seen_code[key]), nudged=True
            )
        self._seen_code[key] = n
        result = await self._execute(code)
        if result.final is not None:
            return _Step(final=result.final)
        feedback = self._output_message(n, result)
        if find_final(reply) is not None:
            feedback += "\n" + self.prompts.message("final_ignored")
        return _Step(feedback=feedback)

    def _refuse_final(self, answer: str) -> str | None:
        """Feedback that turns down an answer with no evidence behind it, or None to accept it.

        Each check refuses at most once per run, so a model that cannot do better still ends.
        """
        if not self.runtime.options.require_evidence or self.budget.iterations_left() == 0:
            return None
        if not self._looked and "look_first" not in self._refused_finals:
            self._refused_finals.add("look_first")
            self._emit("nudge", why="answer before looking at the repository")
            return self.prompts.message("look_first")
        citations = verify(answer, self.repo)
        if not any(c.verified for c in citations) and "bad_citations" not in self._refused_finals:
            self._refused_finals.add("bad_citations")
            problems = "; ".join(f"{c.label()}: {c.reason}" for c in citations[:5]) or "no `path:line` at all"
            self._emit("nudge", why="no verified citation", problems=problems)
            return self.prompts.message("bad_citations", problems=problems)
        return None

    async def _step_without_code(self, reply: str) -> _Step:
        marker = find_final(reply)
        if marker is None:
            self._emit("nudge", why="no code block")
            return _Step(feedback=self.prompts.message("no_code"), nudged=True)
        if marker.variable is None:
            return _Step(final=marker.text)
        value = await self._sandbox().get_variable(marker.variable)
        if value is None:
            self._emit("nudge", why="FINAL_VAR of a missing variable", name=marker.variable)
            return _Step(
                feedback=self.prompts.message("final_var_missing", name=marker.variable), nudged=True
            )
        return _Step(final=value)

    async def _execute(self, code: str) -> ExecResult:
        self._emit("code", code=code)
        result = await self._sandbox().execute(code)
        self._last_output = result.output
        self.variables = result.variables
        self._emit(
            "output",
            chars=len(result.output),
            preview=preview(result.output, 400),
            error=result.error,
            seconds=round(result.seconds, 3),
            killed=result.killed,
            reset=result.reset,
            final=result.final is not None,
        )
        return result

    def _output_message(self, n: int, result: ExecResult) -> str:
        text = result.output if result.output.strip() else self.prompts.message("empty_output")
        if result.killed:
            state = self.prompts.message("state_lost" if result.reset else "state_kept")
            text = (
                self.prompts.message("killed", reason=result.error or "a limit was hit", state=state)
                + "\n"
                + text
            )
        left = self.budget.iterations_left()
        return self.prompts.message(
            "output",
            iteration=n,
            seconds=f"{result.seconds:.1f}",
            output=truncate(text.rstrip(), self.runtime.options.output_chars),
            remaining=self.prompts.message("remaining", left=left),
        )

    async def _answer_now(self, messages: list[Message], reason: str) -> str:
        """The best partial answer: one last "answer now" turn when only the turns ran out."""
        if reason in ("iterations", "stuck"):
            try:
                self.budget.check()
                messages.append(Message("user", self.prompts.message("answer_now")))
                reply = await self._ask_root(messages)
                answer = await self._answer_from(reply)
                if answer:
                    return answer
            except BudgetExhausted as exc:
                self._emit("error", message=str(exc))
        return self.stopped_answer(reason)

    async def _answer_from(self, reply: str) -> str | None:
        marker = find_final(reply)
        if marker is not None:
            if marker.variable is None:
                return marker.text
            return await self._sandbox().get_variable(marker.variable)
        code = find_code(reply)
        if code is not None and "final" in code.lower():
            result = await self._execute(code)
            if result.final is not None:
                return result.final
        prose = _CODE_FENCES.sub("", reply).strip()
        return prose or None

    # -- the root model -----------------------------------------------------------------------

    async def _ask_root(self, messages: list[Message], temperature: float = 0.0) -> str:
        models = self.runtime.models
        started = time.monotonic()
        completion = await models.root.complete(
            self._fit_context(messages),
            model=models.root_model,
            max_tokens=self.runtime.options.root_max_tokens,
            temperature=temperature,
        )
        self.budget.add_usage(completion.usage, root=True)
        self._emit(
            "model_call",
            model=models.root_model,
            input_tokens=completion.usage.input_tokens,
            output_tokens=completion.usage.output_tokens,
            cost_usd=completion.usage.cost_usd,
            seconds=round(time.monotonic() - started, 3),
            text=completion.text,
        )
        return completion.text

    def _fit_context(self, messages: list[Message]) -> list[Message]:
        """Elide the oldest REPL outputs when the conversation would overflow the model's window.

        Eliding breaks the provider's prefix cache, so it only happens when it must.
        """
        window = self.runtime.options.context_tokens
        if window is None:
            return messages
        room = window - self.runtime.options.root_max_tokens
        fitted = list(messages)
        # Keep the system prompt, the example, the question and the last exchange; elide outputs in between.
        first = 2 + len(self.prompts.example)
        for i in range(first, max(first, len(fitted) - 2)):
            if _estimate_tokens(fitted) <= room:
                break
            if fitted[i].role == "user" and not fitted[i].content.startswith("[elided"):
                fitted[i] = Message("user", "[elided: an earlier REPL output, to fit the context window]")
        return fitted

    # -- calls from the sandbox ---------------------------------------------------------------

    async def handle_call(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Serve a call the model's code made from inside the sandbox. Errors become its exceptions."""
        self._looked = True
        if name.startswith("repo.") and name.removeprefix("repo.") in _REPO_METHODS:
            return await self._repo_call(name.removeprefix("repo."), args, kwargs)
        if name == "llm_query":
            (prompt,) = _bind(name, ["prompt"], args, kwargs)
            return await self._sub_query_for_model(prompt)
        if name == "llm_query_batched":
            (prompts,) = _bind(name, ["prompts"], args, kwargs)
            if not isinstance(prompts, list | tuple):
                raise TypeError("llm_query_batched(prompts) takes a list of strings")
            return await self._batched([str(p) for p in prompts])
        if name == "rlm_query":
            question, scope = _bind(name, ["question", "scope"], args, kwargs, defaults={"scope": None})
            return await self._child(str(question), scope)
        raise NameError(f"no function {name} in this REPL")

    async def _repo_call(self, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        # Nested names (git.log) are attributes of attributes; a property (git.head) is read, not called.
        *path, last = method.split(".")
        try:
            target: Any = self.repo
            for part in path:
                target = getattr(target, part)
            if method in _REPO_PROPERTIES:
                if args or kwargs:
                    raise TypeError(f"repo.{method} is a value, not a function: use it without ()")
                return await asyncio.to_thread(getattr, target, last)
            fn = getattr(target, last)
        except WorkspaceError as exc:
            raise ValueError(str(exc)) from None
        try:
            inspect.signature(fn).bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"repo.{method}: {exc}") from None
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except WorkspaceError as exc:
            raise ValueError(str(exc)) from None

    async def sub_query(self, prompt: str) -> str:
        """One sub-model call, through the cache, the budget and the session's concurrency limit."""
        rt = self.runtime
        prompt = truncate(prompt, rt.options.sub_prompt_chars)
        key = (rt.models.sub_model, prompt)
        if key in rt.cache:
            self._emit("subcall_end", cached=True, prompt_chars=len(prompt), input_tokens=0, output_tokens=0)
            return rt.cache[key]
        self.budget.charge_sub_call()
        self._emit("subcall_start", prompt_chars=len(prompt), preview=preview(prompt))
        started = time.monotonic()
        assert rt.semaphore is not None
        async with rt.semaphore:
            completion = await rt.models.sub.complete(
                [Message("user", prompt)], model=rt.models.sub_model, max_tokens=rt.options.sub_max_tokens
            )
        self.budget.add_usage(completion.usage, root=False)
        rt.cache[key] = completion.text
        self._emit(
            "subcall_end",
            cached=False,
            input_tokens=completion.usage.input_tokens,
            output_tokens=completion.usage.output_tokens,
            cost_usd=completion.usage.cost_usd,
            seconds=round(time.monotonic() - started, 3),
            preview=preview(completion.text),
        )
        return completion.text

    async def _sub_query_for_model(self, prompt: Any) -> str:
        try:
            return await self.sub_query(str(prompt))
        except (ProviderError, BudgetExhausted) as exc:
            self._emit("error", message=f"llm_query: {exc}")
            raise RuntimeError(f"llm_query failed: {exc}") from None

    async def _batched(self, prompts: list[str]) -> list[str]:
        async def one(prompt: str) -> str:
            try:
                return await self.sub_query(prompt)
            except (ProviderError, BudgetExhausted) as exc:
                return f"[llm_query failed: {exc}]"

        return list(await asyncio.gather(*(one(p) for p in prompts)))

    async def _child(self, question: str, scope: Any) -> str:
        if not self.budget.can_recurse:
            # At the depth limit a child would be one level too many: answer with one sub-call instead.
            self._emit("child_start", question=preview(question), scope=scope, degraded=True)
            return await self._sub_query_for_model(question)
        try:
            child_repo = self.repo.scoped(str(scope)) if scope else self.repo
        except WorkspaceError as exc:
            raise ValueError(str(exc)) from None
        try:
            self.budget.charge_sub_call()
        except BudgetExhausted as exc:
            raise RuntimeError(f"rlm_query refused: {exc}") from None
        child_question = (
            self.prompts.message("child_question", question=question, scope=scope) if scope else question
        )
        self._emit("child_start", question=preview(question), scope=scope, degraded=False)
        child = RLMRun(self.runtime, child_repo, self.budget.child(), child_question)
        try:
            result = await child.run()
        except ProviderError as exc:
            self._emit("child_end", partial=True, error=str(exc))
            raise RuntimeError(f"rlm_query failed: {exc}") from None
        self._emit(
            "child_end",
            partial=result.partial,
            reason=result.reason,
            answer=preview(result.answer, 400),
            iterations=result.iterations,
        )
        if result.partial:
            return f"{result.answer}\n\n(partial answer: the helper stopped because of {result.reason})"
        return result.answer

    # -- helpers ------------------------------------------------------------------------------

    def _sandbox(self) -> Sandbox:
        assert self.sandbox is not None, "run() starts the sandbox"
        return self.sandbox

    def _question_message(self, summary: str) -> str:
        return self.prompts.message(
            "question",
            name=self.repo.root.name + (f" (folder {self.repo.scope})" if self.repo.scope else ""),
            summary=summary,
            session_note=self.session_note,
            question=self.question,
        )

    def _emit(self, kind: str, **data: Any) -> None:
        self.runtime.tracer.emit(kind, depth=self.depth, **data)


def describe_repo(repo: Repo, question: str = "", map_tokens: int = REPO_MAP_TOKENS) -> str:
    """Metadata about the repository instead of its text: size, languages, top-level tree, and
    a ranked map of its key files and definitions, personalized to names in the question."""
    s = repo.summary()
    langs = ", ".join(f"{name} {count}" for name, count in list(s.languages.items())[:8]) or "none recognised"
    text = f"{s.file_count} files, {human_size(s.total_bytes)}. Languages: {langs}.\nTop level:\n{s.tree}"
    try:
        repo_map = repo.repo_map(question, max_tokens=map_tokens) if map_tokens > 0 else ""
    except Exception:  # the map is a help, never a reason to fail the question
        log.exception("the repository map could not be built")
        repo_map = ""
    return f"{text}\n\n{repo_map}" if repo_map else text


def _estimate_tokens(messages: list[Message]) -> int:
    # About 3.5 characters a token for code and English; a safe side estimate without a tokenizer.
    return sum(len(m.content) for m in messages) * 2 // 7 + 8 * len(messages)


def _bind(
    name: str,
    params: list[str],
    args: list[Any],
    kwargs: dict[str, Any],
    defaults: dict[str, Any] | None = None,
) -> list[Any]:
    """Match positional and keyword arguments to parameter names, with readable errors for the model."""
    defaults = defaults or {}
    if len(args) > len(params):
        raise TypeError(f"{name}() takes {len(params)} arguments but {len(args)} were given")
    values = dict(zip(params, args, strict=False))
    for key, value in kwargs.items():
        if key not in params:
            raise TypeError(f"{name}() got an unexpected keyword argument '{key}'")
        if key in values:
            raise TypeError(f"{name}() got multiple values for argument '{key}'")
        values[key] = value
    missing = [p for p in params if p not in values and p not in defaults]
    if missing:
        raise TypeError(f"{name}() missing required argument '{missing[0]}'")
    return [values.get(p, defaults.get(p)) for p in params]
