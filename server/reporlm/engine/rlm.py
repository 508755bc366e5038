"""The RLM loop: ask the root model for code, run it in the sandbox, feed the output back, repeat.

One `RLMRun` answers one question over one `repo` (the whole repository, or a folder for a child
run). `Runtime` holds what a run shares with its children: the models, the options, the trace, the
sub-call cache and the concurrency limit.

Time is bounded from the outside, whatever the model, its code or a provider does:
- the whole run (root turns, blocks, sub-calls, children) stops at the budget's deadline; what
  is in flight is abandoned and the run returns its partial answer;
- the repo.* calls of one block share the block's wall-clock limit (the worker's own clock stops
  while the host works), each running with a workspace deadline and abandoned past it;
- checking the answer's citations at the end has its own few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from reporlm.engine.budget import Budget, BudgetExhausted
from reporlm.engine.citations import Citation, SeenLines, verify
from reporlm.engine.evidence import gather as gather_evidence
from reporlm.engine.options import EngineOptions
from reporlm.engine.parsing import (
    assigns,
    echoes_an_error,
    find_code,
    find_final,
    grounded_lines,
    joined_by_character,
    normalize_code,
    parses,
    truncate,
    without_stray_lines,
)
from reporlm.engine.prompting import PromptSet, load_prompts
from reporlm.engine.repl_functions import (
    SHORT_LIST,
    build_table,
    describe,
    describe_records,
    describe_short,
    record_names,
    sandbox_table,
)
from reporlm.engine.result import RunResult
from reporlm.engine.subcall_cache import SubcallCache
from reporlm.engine.trace import Tracer, preview
from reporlm.llm.base import Message, ModelClient, ProviderError
from reporlm.sandbox import ExecResult, Sandbox
from reporlm.workspace import Repo, WorkspaceError
from reporlm.workspace.history import BlameLine, Change, Commit, GitHistory, Head
from reporlm.workspace.limits import WorkspaceTimeout
from reporlm.workspace.limits import deadline as workspace_deadline
from reporlm.workspace.search import Hit
from reporlm.workspace.symbols import Caller, Importer, Match, Subclass, Symbol
from reporlm.workspace.tree import human_size

log = logging.getLogger(__name__)
T = TypeVar("T")

ANSWER_VARIABLE = "answer"
"""Where every prompt's worked examples build the answer before FINAL_VAR("answer")."""
_CODE_FENCES = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_PATH_TOKEN = re.compile(r"[\w@+\-./]+\.[A-Za-z]\w*")
HOST_CALL_GRACE_SECONDS = 1.0
"""A repo call still running this long past its deadline is abandoned (its thread stops at its
next deadline check)."""
CHECK_SECONDS = 3.0
"""Checking an answer's citations gets this long; citations left are flagged as not checked."""
_NAME_LOOKUPS = ("definitions", "callers", "subclasses", "importers", "references")
_USE = {"callers": "calls", "subclasses": "inherits from", "importers": "imports", "references": "uses"}
MAX_BATCH_PROMPTS = 1000
"""Prompts one llm_query_batched call may send, whatever the budget says."""


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
    cache: SubcallCache = field(default_factory=SubcallCache)
    """Sub-call answers by (model, prompt): an unchanged question about unchanged text costs nothing."""
    semaphore: asyncio.Semaphore | None = None

    def __post_init__(self) -> None:
        if self.semaphore is None:
            self.semaphore = asyncio.Semaphore(max(1, self.options.concurrency))

    async def start_sandbox(
        self, handler: Callable[[str, list[Any], dict[str, Any]], Awaitable[Any]]
    ) -> Sandbox:
        return await Sandbox.start(
            functions=sandbox_table(FUNCTIONS, self.options.doc_values()),
            handler=handler,
            limits=self.options.sandbox,
        )


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
        """Each block the model ran (normalized) -> the turn it last ran in."""
        self._failed_code: set[str] = set()
        """Blocks whose last run raised."""
        self._last_success = 0
        """The last turn whose block ran without raising."""
        self._last_output = ""
        self._looked = False
        """Whether the model's code has called anything (repo, llm_query, rlm_query) in this run."""
        self._refused_finals: set[str] = set()
        """Which answer checks have already turned a FINAL down in this run (each does so once)."""
        self.variables: list[str] = []
        self._pinned = 0
        """How many first messages (system, example, context, question) are never elided."""
        self.seen = SeenLines()
        """What this run has seen of the repository: a citation is verified only against it."""
        self._block_repo_seconds = 0.0
        """Time the host has spent on the repo.* calls of the block running now."""
        self._notes: list[str] = []
        """What the host adds to the block's output (why a lookup found nothing)."""

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
        try:
            answer, reason = await self._until_deadline(self._answer(own_sandbox))
        finally:
            if own_sandbox and self.sandbox is not None:
                await self.sandbox.close()
        return await self.finish(answer, reason)

    async def _answer(self, own_sandbox: bool) -> tuple[str, str]:
        if own_sandbox:
            self.sandbox = await self.runtime.start_sandbox(self.handle_call)
        # The map and the evidence need the symbol index, which a first run on a large
        # repository builds: off the loop.
        messages, evidence = await _in_thread(self._first_messages)
        self._pinned = len(messages)
        if evidence:
            self.seen.add_text(evidence)
            self._emit("evidence", chars=len(evidence), text=evidence)
        answer, reason = await self._loop(messages)
        if answer is None:
            answer = await self._answer_now(messages, reason)
        return answer, reason

    async def _until_deadline(self, work: Awaitable[tuple[str, str]]) -> tuple[str, str]:
        """`work`'s answer, or the partial answer when the run's deadline comes first: whatever
        is in flight then (a model call, a block, a repo call, a child) is abandoned."""
        left = self.budget.seconds_left()
        if left is None:
            return await work
        timeout = asyncio.timeout(max(0.0, left))
        try:
            async with timeout:
                return await work
        except TimeoutError:
            if not timeout.expired():
                raise
        exhausted = BudgetExhausted("wall-clock", f"{self.budget.limits.max_seconds:g} s")
        self._emit("error", message=str(exhausted))
        return self.stopped_answer(exhausted.resource), exhausted.resource

    async def finish(self, answer: str, reason: str) -> RunResult:
        """The result of this run with `answer`, checked, and the closing trace events.

        Also the way out of a run that was stopped from outside: `await finish(stopped_answer(r), r)`.
        """
        partial = reason != "final"
        result = RunResult(
            answer=answer,
            partial=partial,
            reason=reason,
            citations=await self._verify(answer),
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
                if step.final is not None and (text := joined_by_character(step.final)) is not None:
                    self._emit("nudge", why="the answer was a string joined one character per line: rejoined")
                    step = replace(step, final=text)
                refusal = await self._refuse_final(step.final) if step.final is not None else None
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
        if echoes_an_error(code):
            self._emit("nudge", why="error message written as code")
            return _Step(feedback=self.prompts.message("echoed_error"), nudged=True)
        code, skipped = without_stray_lines(code)
        if skipped:
            self._emit("nudge", why="lines that are not Python skipped", lines=skipped)
        key = normalize_code(code)
        previous = self._seen_code.get(key)
        # Code that failed may run again once other code has run since (it may now have what it
        # lacked, a variable defined by a later block); code that ran fine would only repeat itself.
        if previous is not None and not (key in self._failed_code and self._last_success > previous):
            self._emit("nudge", why="repeated code", previous=previous)
            return _Step(feedback=self.prompts.message("repeated_code", previous=previous), nudged=True)
        self._seen_code[key] = n
        result = await self._execute(code)
        if result.error:
            self._failed_code.add(key)
        else:
            self._failed_code.discard(key)
            self._last_success = n
        if result.final is not None:
            return _Step(final=result.final)
        if skipped and not result.error and assigns(code, ANSWER_VARIABLE):
            # The block built `answer`, then wrote prose where FINAL_VAR belongs (an answer
            # template, the answer retyped or made up): the model was answering, and what its code
            # built is what the repository said, so that is the answer.
            built = await self._sandbox().get_variable(ANSWER_VARIABLE)
            if built and built.strip():
                self._emit(
                    "nudge", why=f"the block built `{ANSWER_VARIABLE}`, then wrote prose: taken as FINAL_VAR"
                )
                return _Step(final=built)
        if skipped and not result.error and (said := grounded_lines(skipped, result.output)):
            # No `answer` built, but the prose after the code retypes what the code printed.
            self._emit("nudge", why="the prose after the block names only what it printed: taken as FINAL")
            return _Step(final="\n".join(said))
        feedback = self._output_message(n, result)
        if skipped:
            lines = ", ".join(f"`{truncate(line.strip(), 80)}`" for line in skipped)
            feedback += "\n" + self.prompts.message("skipped_lines", lines=lines)
        if find_final(reply) is not None:
            feedback += "\n" + self.prompts.message("final_ignored")
        return _Step(feedback=feedback)

    async def _refuse_final(self, answer: str) -> str | None:
        """Feedback that turns down an answer with no evidence behind it, or None to accept it.

        Each check refuses at most once per run, so a model that cannot do better still ends.
        """
        if not self.runtime.options.require_evidence or self.budget.iterations_left() == 0:
            return None
        if not answer.strip() and "empty_answer" not in self._refused_finals:
            self._refused_finals.add("empty_answer")
            self._emit("nudge", why="empty answer")
            return self.prompts.message("empty_answer")
        if not self._looked and "look_first" not in self._refused_finals:
            self._refused_finals.add("look_first")
            self._emit("nudge", why="answer before looking at the repository")
            return self.prompts.message("look_first")
        citations = await self._verify(answer)
        if any(c.verified for c in citations):
            return None
        if any(c.exists for c in citations):
            if "unseen_citations" in self._refused_finals:
                return None
            self._refused_finals.add("unseen_citations")
            problems = ", ".join(c.label() for c in citations[:5])
            self._emit("nudge", why="no citation the run saw", problems=problems)
            return self.prompts.message("unseen_citations", problems=problems)
        if "bad_citations" in self._refused_finals or (not citations and self._names_a_file(answer)):
            return None  # an answer that lists files or `path::name`s is grounded without line numbers
        self._refused_finals.add("bad_citations")
        problems = "; ".join(f"{c.label()}: {c.reason}" for c in citations[:5]) or "no `path:line` at all"
        self._emit("nudge", why="no verified citation", problems=problems)
        return self.prompts.message("bad_citations", problems=problems)

    def _names_a_file(self, answer: str) -> bool:
        files = set(self.repo.files())
        return any(token.removeprefix("./") in files for token in _PATH_TOKEN.findall(answer[:100_000]))

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

    async def _verify(self, answer: str) -> list[Citation]:
        """The answer's citations, checked off the event loop, in at most CHECK_SECONDS."""
        with workspace_deadline(CHECK_SECONDS):
            call = _in_thread(functools.partial(verify, answer, self.repo, self.seen))
        try:
            async with asyncio.timeout(CHECK_SECONDS + HOST_CALL_GRACE_SECONDS):
                return await call
        except TimeoutError:
            log.warning("checking the citations of an answer took too long; none are marked verified")
            return []

    async def _execute(self, code: str) -> ExecResult:
        self._emit("code", code=code)
        self._block_repo_seconds = 0.0
        self._notes = []
        result = await self._sandbox().execute(code)
        self.seen.add_text(result.output)
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
        notes = list(dict.fromkeys(self._notes))[:5]
        if result.output.strip():
            text = result.output.rstrip() + ("\n" + "\n".join(notes) if notes else "")
        else:
            text = "\n".join(notes) or self.prompts.message("empty_output")
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
        built = await self._sandbox().get_variable(ANSWER_VARIABLE) if self.sandbox is not None else None
        if built and built.strip():
            # The model built its answer but never handed it over: better than its last output.
            self._emit("nudge", why=f"the answer is the value of `{ANSWER_VARIABLE}`, never passed to FINAL")
            note = f"_(The run stopped ({reason}) before the model called FINAL: its code built this.)_"
            return f"{built.strip()}\n\n{note}"
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
        if not prose and code is not None and not parses(code):
            return code.strip()  # the answer written in a code block: text, not code
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
        first = self._pinned
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
        entry = FUNCTIONS.get(name)
        if entry is None:
            raise NameError(f"no function {name} in this REPL")
        try:
            owner: Any = {"repo": self.repo, "run": self}.get(entry.owner) or self.repo.git
            if entry.is_property:
                if args or kwargs:
                    raise TypeError(f"{name} is a value, not a function: use it without ()")
                return await self._host_call(name, functools.partial(getattr, owner, entry.attribute))
            function = getattr(owner, entry.attribute)
            try:
                bound = inspect.signature(function).bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{name}{entry.signature}: {exc}") from None
            if entry.is_async:
                return await function(*args, **kwargs)
            value = await self._host_call(name, functools.partial(function, *args, **kwargs))
            self._saw(entry.attribute, bound, value)
            if value == [] and entry.owner == "repo" and entry.attribute in _NAME_LOOKUPS and args:
                # An empty list prints nothing: say why, and what exists instead.
                note = functools.partial(self._nothing_found, entry.attribute, args[0])
                self._notes.append(await self._host_call(name, note))
            return value
        except WorkspaceError as exc:
            raise ValueError(str(exc)) from None

    async def _host_call(self, name: str, call: Callable[[], T]) -> T:
        """Run a repo call off the loop within what is left of the block's time (and the run's):
        the workspace stops at that deadline, and a call that does not is abandoned."""
        block = self.runtime.options.sandbox.wall_seconds
        left = block - self._block_repo_seconds
        run_left = self.budget.seconds_left()
        if run_left is not None:
            left = min(left, run_left)
        if left <= 0:
            raise TimeoutError(
                f"{name} refused: the repo calls of this block have used up its {block:g} s "
                "time limit; end this block and go on in the next one"
            )
        started = time.monotonic()
        try:
            with workspace_deadline(left):
                pending = _in_thread(call)
            timeout = asyncio.timeout(left + HOST_CALL_GRACE_SECONDS)
            try:
                async with timeout:
                    return await pending
            except TimeoutError:
                if not timeout.expired():
                    raise
                raise TimeoutError(
                    f"{name} did not finish within the {left:.0f} s left of this block's time "
                    "and was abandoned; narrow it (a glob=, under= or a more specific pattern)"
                ) from None
        except WorkspaceTimeout as exc:
            raise TimeoutError(
                f"{name}: {exc} (the repo calls of one block share its {block:g} s limit)"
            ) from None
        except WorkspaceError as exc:
            raise ValueError(str(exc)) from None
        finally:
            self._block_repo_seconds += time.monotonic() - started

    def _nothing_found(self, function: str, name: object) -> str:
        """A note for the model on a lookup that found nothing: the name is defined but unused, or
        the definitions whose names look most like it."""
        text = str(name)[:200]
        head = f"Note: repo.{function}({text!r}) found nothing"
        if function != "definitions":
            try:
                defined = self.repo.definitions(text)
            except WorkspaceError:
                defined = []
            if defined:
                d = defined[0]
                used = _USE[function]
                return f"{head}; `{d.qualified}` is defined at {d.path}:{d.line}, but nothing {used} it."
        try:
            similar = self.repo.search(text.replace("::", " ").replace(".", " "), k=5)
        except WorkspaceError:
            similar = []
        if not similar:
            return f"{head}: no definition of that name."
        names = ", ".join(f"{m.path}::{m.qualified}" for m in similar)
        return f"{head}: no definition of that name. Definitions with similar words: {names}"

    def _saw(self, function: str, call: inspect.BoundArguments, value: Any) -> None:
        """Remember which lines a repository call showed the model's code."""
        call.apply_defaults()
        path = call.arguments.get("path")
        if isinstance(value, str) and isinstance(path, str):
            if function == "read":
                start, end = call.arguments.get("start"), call.arguments.get("end")
                first = start if isinstance(start, int) else 1
                self.seen.add(path, first, end if isinstance(end, int) else first + value.count("\n"))
            elif function == "outline":
                for line in re.findall(r"^ *(\d+)  ", value, re.MULTILINE):
                    self.seen.add(path, int(line))
            return
        self.seen.add_value(value, path if isinstance(path, str) else None)

    # -- the model functions of the REPL (their docstrings are what the model reads) ----------

    async def llm_query(self, prompt: str) -> str:
        """Ask the sub-model about text you put in `prompt`; it sees nothing else. Returns its answer.

        Prompts longer than ${sub_prompt_chars} characters are cut in the middle. If the call fails
        (provider error, or the sub-call budget is spent) it raises RuntimeError with the reason.
        """
        return await self._sub_query_for_model(prompt)

    async def llm_query_batched(self, prompts: list[str]) -> list[str]:
        """Many llm_query calls at once, run concurrently; the answers come back in order.

        Fails like llm_query (RuntimeError) if any call fails, or when there are more prompts than
        sub-calls left in the budget.
        """
        if not isinstance(prompts, list | tuple):
            raise TypeError("llm_query_batched(prompts) takes a list of strings")
        return await self._batched(prompts)

    async def rlm_query(self, question: str, scope: str | None = None) -> str:
        """A helper that answers `question` by exploring only the folder `scope` with its own REPL.

        Returns its answer (marked partial if it ran out of budget). Raises RuntimeError if it fails.
        """
        return await self._child(str(question), scope)

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

    async def _batched(self, prompts: list[Any] | tuple[Any, ...]) -> list[str]:
        """Answers to `prompts`, in order. Like llm_query, a call that cannot be served raises
        RuntimeError: refused whole, before anything is sent, when it holds more new prompts than
        the budget has sub-calls left; and when some calls fail, after the others have answered
        (their answers are cached, so a retry costs only the failed ones)."""
        if len(prompts) > MAX_BATCH_PROMPTS:
            raise RuntimeError(
                f"llm_query_batched refused: {len(prompts):,} prompts, at most {MAX_BATCH_PROMPTS:,} per call"
            )
        rt = self.runtime
        texts = [truncate(p if isinstance(p, str) else str(p), rt.options.sub_prompt_chars) for p in prompts]
        unique = list(dict.fromkeys(texts))
        new = sum((rt.models.sub_model, text) not in rt.cache for text in unique)
        left = self.budget.sub_calls_left()
        if left is not None and new > left:
            raise RuntimeError(
                f"llm_query_batched refused: {new:,} new prompts but only {left:,} sub-calls are left in "
                f"the budget; send at most {left:,} (answers already received are cached and free)"
            )
        answers = await asyncio.gather(
            *(self._sub_query_for_model(t) for t in unique), return_exceptions=True
        )
        failed = [(i, a) for i, a in enumerate(answers) if isinstance(a, BaseException)]
        for _, error in failed:
            if not isinstance(error, Exception):
                raise error  # a cancellation, say: not the model's business
        if failed:
            first = texts.index(unique[failed[0][0]])
            raise RuntimeError(
                f"llm_query_batched: {len(failed)} of {len(unique)} distinct prompts failed (prompt {first}: "
                f"{failed[0][1]}); the others' answers are cached: calling again costs only the failed ones"
            )
        by_text = dict(zip(unique, answers, strict=True))
        return [by_text[text] for text in texts]  # type: ignore[misc]

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

    def _first_messages(self) -> tuple[list[Message], str]:
        """System prompt, example, then the question, laid out from most to least shared; and the
        evidence block the question message holds (empty for prompt v1).

        Prompt v2 (and later) sends the repository context (summary and unpersonalized map, the
        same for every question on this revision) as a message of its own, then the evidence block
        and the question; each shared part ends with a cache mark. v1 sends one question message
        with the map personalized to the question.
        """
        options = self.runtime.options
        values = options.doc_values()
        system = self.prompts.system(
            functions=describe(FUNCTIONS, values),
            functions_short=describe_short(FUNCTIONS, values),
            records=describe_records(RECORD_TYPES),
            records_short=describe_records(SHORT_RECORD_TYPES),
            max_iterations=self.budget.limits.max_iterations,
        )
        example = [Message(role, text) for role, text in self.prompts.example]  # type: ignore[arg-type]
        messages = [Message("system", system, cache=not example), *example]
        if example:
            messages[-1] = replace(messages[-1], cache=True)
        name = self.repo.root.name + (f" (folder {self.repo.scope})" if self.repo.scope else "")
        if not self.prompts.has("repository"):
            summary = describe_repo(self.repo, self.question, options.map_tokens, options.folders_only)
            self.seen.add_map(summary)
            text = self.prompts.message(
                "question", name=name, summary=summary, session_note=self.session_note, question=self.question
            )
            return [*messages, Message("user", text)], ""
        summary = describe_repo(self.repo, "", options.map_tokens, options.folders_only)
        self.seen.add_map(summary)
        turns = self.budget.limits.max_iterations
        context = self.prompts.message("repository", name=name, summary=summary, max_iterations=turns)
        evidence = gather_evidence(
            self.repo, self.question, options.evidence_tokens, head=self.prompts.message("evidence_head")
        )
        question = self.prompts.message(
            "question", evidence=evidence, question=self.question, session_note=self.session_note
        )
        return [*messages, Message("user", context, cache=True), Message("user", question)], evidence

    def _emit(self, kind: str, **data: Any) -> None:
        self.runtime.tracer.emit(kind, depth=self.depth, **data)


def _in_thread(call: Callable[[], T]) -> asyncio.Future[T]:
    """Start `call()` in a daemon thread with the current context (and so the workspace deadline
    in force now); the future settles with its outcome.

    Not `asyncio.to_thread`: the default executor is waited for when the loop closes, and an
    abandoned call must not hold the process up when it exits.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return  # abandoned
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def target() -> None:
        value: Any = None
        error: BaseException | None = None
        try:
            value = context.run(call)
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=target, name="reporlm-host-call", daemon=True).start()
    return future


def describe_repo(repo: Repo, question: str = "", map_tokens: int = 1200, folders_only: bool = False) -> str:
    """Metadata about the repository instead of its text: size, languages, top-level tree, and
    a ranked map of its key files and definitions, personalized to names in the question."""
    s = repo.summary(folders_only=folders_only)
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


FUNCTIONS = build_table(Repo, GitHistory, RLMRun)
"""Every name of the model's REPL, documented from the methods themselves (see repl_functions)."""
RECORD_TYPES = (Symbol, Caller, Subclass, Importer, Match, Hit, Commit, BlameLine, Change, Head)
"""The records those functions return, whose attributes the system prompt lists."""
SHORT_RECORD_TYPES = tuple(
    cls for cls in RECORD_TYPES if cls.__name__ in record_names({n: FUNCTIONS[n] for n in SHORT_LIST})
)
"""The records of the short listing small models get."""
