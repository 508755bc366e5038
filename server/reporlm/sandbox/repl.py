"""The REPL the model's code runs in: namespace, host-function proxies, output capture, time limits.

Runs inside the isolated worker. It knows nothing of what the host functions do: ``call(name,
args, kwargs)`` sends them over the channel and returns (or raises) what the host answered.
"""

from __future__ import annotations

import ast
import builtins
import collections
import io
import keyword
import linecache
import math
import os
import resource
import signal
import sys
import traceback
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reporlm.sandbox.protocol import PROPERTY_MARK, TEXT_TAG

Call = Callable[[str, tuple[Any, ...], dict[str, Any]], Any]

_INTERNAL_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_TIMER_REPEAT_SECONDS = 0.25  # after the limit, interrupt again if the code swallowed the first one


class TimeLimitExceeded(BaseException):
    """Raised inside a block that ran past its wall-clock limit (BaseException: not swallowed by
    ``except Exception``)."""


class CpuLimitExceeded(BaseException):
    """Raised inside a block that used up its CPU-time limit."""


# Shown to the model by their bare names, like the builtin exceptions.
TimeLimitExceeded.__module__ = CpuLimitExceeded.__module__ = "builtins"


@dataclass
class BlockResult:
    output: str
    error: str | None
    final: str | None
    variables: list[str] = field(default_factory=list)


class OutputCapture(io.TextIOBase):
    """stdout/stderr of a block: keeps the head and the tail within ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        self._half = max(limit // 2, 1)
        self._head: list[str] = []
        self._head_size = 0
        self._tail: collections.deque[str] = collections.deque()
        self._tail_size = 0
        self._cut = 0

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        written = len(text)
        room = self._half - self._head_size
        if room > 0:
            self._head.append(text[:room])
            self._head_size += min(room, len(text))
            text = text[room:]
        if text:
            self._tail.append(text)
            self._tail_size += len(text)
            while self._tail_size - len(self._tail[0]) >= self._half:
                self._tail_size -= len(dropped := self._tail.popleft())
                self._cut += len(dropped)
        return written

    def getvalue(self) -> str:
        tail = "".join(self._tail)
        extra = max(self._tail_size - self._half, 0)
        cut = self._cut + extra
        tail = tail[extra:]
        head = "".join(self._head)
        return head + (f"\n[... {cut} characters of output cut ...]\n" if cut else "") + tail


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
    cpu_seconds: float
    memory_mb: int
    output_chars: int


class Repl:
    def __init__(self, functions: Mapping[str, str], call: Call, limits: Limits) -> None:
        self._functions = dict(functions)
        self._call = call
        self._limits = limits
        self._namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self._records: dict[tuple[str, tuple[str, ...]], type] = {}
        self._blocks = 0
        self._final: str | None = None
        self._active = False  # True only while the model's code runs: timers interrupt nothing else
        self.reserved = _top_level_names(self._functions) | {"FINAL", "FINAL_VAR"}
        self._builtins = dict(builtins.__dict__)
        self._restore_reserved()

    # --- running a block -------------------------------------------------------------------------

    def execute(self, code: str) -> BlockResult:
        self._blocks += 1
        self._final = None
        filename = f"<block {self._blocks}>"
        # Register the source so tracebacks show the model's own lines, even from later blocks.
        linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
        capture = OutputCapture(self._limits.output_chars)
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = capture
        error: str | None = None
        try:
            try:
                body, last = _compile(code, filename)
            except Exception as exc:  # SyntaxError, or ValueError for a NUL byte, RecursionError...
                capture.write("".join(traceback.format_exception_only(type(exc), exc)))
                error = _one_line(exc)
            else:
                error = self._run(body, last, capture)
        finally:
            sys.stdout, sys.stderr = saved
            self._restore_reserved()
        return BlockResult(capture.getvalue(), error, self._final, self.variables())

    def _run(self, body: Any, last: Any, capture: OutputCapture) -> str | None:
        self._start_limits()
        try:
            try:
                self._active = True
                exec(body, self._namespace)
                if last is not None:
                    value = eval(last, self._namespace)
                    if value is not None:
                        capture.write(repr(value) + "\n")
            finally:
                # A timer that fires between here and the stop below finds _active False.
                self._active = False
        except BaseException as exc:
            self._stop_limits()
            return self._report(exc, capture)
        self._stop_limits()
        return None

    def _report(self, exc: BaseException, capture: OutputCapture) -> str:
        try:
            capture.write(_format_traceback(exc))
        except MemoryError:
            capture.write(f"{type(exc).__name__} (the traceback could not be formatted: out of memory)\n")
        if isinstance(exc, MemoryError):
            return f"MemoryError: the block ran out of memory (limit {self._limits.memory_mb} MB)"
        return _one_line(exc)

    def variables(self) -> list[str]:
        return [name for name in self._namespace if not name.startswith("__") and name not in self.reserved]

    def value_text(self, name: str) -> str | None:
        """str() of a variable, under the same limits as a block (a __str__ may loop forever)."""
        if name not in self._namespace or name.startswith("__"):
            return None
        self._start_limits()
        try:
            try:
                self._active = True
                text = str(self._namespace[name])
            finally:
                self._active = False
        except BaseException as exc:
            text = f"<str() of {name} failed: {_one_line(exc)}>"
        self._stop_limits()
        return text

    # --- limits ----------------------------------------------------------------------------------

    def _start_limits(self) -> None:
        # Installed again each time: the model's code may have replaced them.
        signal.signal(signal.SIGALRM, self._on_timer)
        signal.signal(signal.SIGXCPU, self._on_cpu_limit)
        signal.setitimer(signal.ITIMER_REAL, self._limits.wall_seconds, _TIMER_REPEAT_SECONDS)
        used = _cpu_used()
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = math.ceil(used + self._limits.cpu_seconds)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

    def _stop_limits(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))

    def _on_timer(self, signum: int, frame: object) -> None:
        if self._active:
            raise TimeLimitExceeded(
                f"the block ran past its wall-clock limit of {self._limits.wall_seconds:g} s"
            )

    def _on_cpu_limit(self, signum: int, frame: object) -> None:
        if self._active:
            raise CpuLimitExceeded(f"the block used up its CPU-time limit of {self._limits.cpu_seconds:g} s")

    # --- the host functions ----------------------------------------------------------------------

    def _host_call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # The clock stops while the host works (a model call may take long); nothing may interrupt
        # the exchange on the channel, or the two sides would lose step.
        was_active = self._active
        self._active = False
        remaining, _ = signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            return self._call(name, args, kwargs)
        finally:
            if was_active:
                signal.setitimer(signal.ITIMER_REAL, max(remaining, 0.001), _TIMER_REPEAT_SECONDS)
                self._active = True

    def make_record(self, name: str, fields: dict[str, Any]) -> Any:
        """A read-only record with the class name and fields the host sent (a named tuple) that
        prints as the host's own text for it, when it sent one."""
        text = fields.pop(TEXT_TAG, None)
        key = (name, tuple(fields))
        cls = self._records.get(key)
        if cls is None:
            base = collections.namedtuple(_identifier(name), list(fields), rename=True)  # type: ignore[misc]
            cls = type(base.__name__, (base,), {"__repr__": _record_repr, "__str__": _record_repr})
            cls.__module__ = "records"
            self._records[key] = cls
        record = cls(*fields.values())
        if isinstance(text, str):
            record.__dict__["_text"] = text
        return record

    def _restore_reserved(self) -> None:
        """Put back every reserved name, built afresh so that no mutation of the old ones survives,
        and the builtins, which the worker's own code relies on too."""
        if builtins.__dict__ != self._builtins:
            for name in [n for n in builtins.__dict__ if n not in self._builtins]:
                del builtins.__dict__[name]
            builtins.__dict__.update(self._builtins)
        self._namespace.update(_build_proxies(self._functions, self._host_call))
        self._namespace["FINAL"] = self._make_final()
        self._namespace["FINAL_VAR"] = self._make_final_var()

    def _make_final(self) -> Callable[[Any], None]:
        def FINAL(text: Any) -> None:
            """End the run with this answer (Markdown text)."""
            self._final = str(text)

        return FINAL

    def _make_final_var(self) -> Callable[[Any], None]:
        def FINAL_VAR(name: Any) -> None:
            """End the run with the value of the variable ``name`` as the answer (or with the value
            itself when it is text that is not a variable's name, such as the answer itself)."""
            if isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name):
                if name not in self._namespace:
                    # A name the model meant to define; answering with the bare name loses the answer.
                    raise NameError(
                        f"FINAL_VAR({name!r}): no variable named {name}; assign the answer to it first"
                    )
                self._final = str(self._namespace[name])
            else:
                self._final = str(name)

        return FINAL_VAR


def _record_repr(record: Any) -> str:
    text = record.__dict__.get("_text")
    return text if isinstance(text, str) else _fields_repr(record)


def _fields_repr(record: Any) -> str:
    values = ", ".join(f"{name}={value!r}" for name, value in zip(record._fields, record, strict=True))
    return f"{type(record).__name__}({values})"


def _compile(code: str, filename: str) -> tuple[Any, Any]:
    """The block as a body to exec and, when it ends with an expression, that expression to eval."""
    tree = ast.parse(code, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = compile(ast.Expression(tree.body.pop().value), filename, "eval")
    return compile(tree, filename, "exec"), last


def _format_traceback(exc: BaseException) -> str:
    """The traceback without the worker's own frames, so the model sees only its code's."""
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
    for part in _chain(te):
        part.stack = traceback.StackSummary.from_list(
            [frame for frame in part.stack if not frame.filename.startswith(_INTERNAL_DIR)]
        )
    return "".join(te.format())


def _chain(te: traceback.TracebackException) -> list[traceback.TracebackException]:
    seen: list[traceback.TracebackException] = []
    todo = [te]
    while todo:
        part = todo.pop()
        if any(part is s for s in seen):
            continue
        seen.append(part)
        todo += [p for p in (part.__cause__, part.__context__) if p is not None]
    return seen


def _one_line(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()
    summary = text[-1] if text else type(exc).__name__
    if isinstance(exc, SyntaxError) and exc.lineno:
        summary += f" (line {exc.lineno})"
    return summary[:500]


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _identifier(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "Record"
    if cleaned[0].isdigit() or keyword.iskeyword(cleaned):
        cleaned = "R_" + cleaned
    return cleaned


def _top_level_names(functions: Mapping[str, str]) -> set[str]:
    return {name.split(".", 1)[0] for name in functions}


def _build_proxies(functions: Mapping[str, str], call: Call) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted, doc in functions.items():
        node = tree
        *path, last = dotted.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = doc
    return {name: _proxy(name, sub, call) for name, sub in tree.items()}


def _proxy(dotted: str, node: Any, call: Call) -> Any:
    if isinstance(node, str):
        return _function(dotted, node, call)
    attrs: dict[str, Any] = {}
    members: dict[str, Any] = {}
    for name, sub in node.items():
        if isinstance(sub, str) and sub.startswith(PROPERTY_MARK):
            attrs[name] = members[name] = _property(f"{dotted}.{name}", sub.removeprefix(PROPERTY_MARK), call)
            continue
        member = members[name] = _proxy(f"{dotted}.{name}", sub, call)
        attrs[name] = staticmethod(member) if isinstance(member, types.FunctionType) else member
    names = ", ".join(sorted(members))

    def read_only(self: object, name: str, value: object = None) -> None:
        raise AttributeError(f"{dotted} is read-only")

    attrs.update(
        __slots__=(),
        __doc__=f"{dotted}: {names}. Use help({dotted}.<name>) for one of them.",
        __repr__=lambda self: f"<{dotted}: {names}>",
        __setattr__=read_only,
        __delattr__=read_only,
    )
    cls = type(dotted.rsplit(".", 1)[-1], (), attrs)
    cls.__module__ = "sandbox"
    return cls()


def _property(dotted: str, doc: str, call: Call) -> property:
    """A value the host computes when it is read (`repo.git.head`)."""

    def read(self: object) -> Any:
        return call(dotted, (), {})

    read.__name__ = dotted.rsplit(".", 1)[-1]
    read.__qualname__ = dotted
    return property(read, doc=doc)


def _function(dotted: str, doc: str, call: Call) -> Callable[..., Any]:
    def function(*args: Any, **kwargs: Any) -> Any:
        return call(dotted, args, kwargs)

    function.__name__ = dotted.rsplit(".", 1)[-1]
    function.__qualname__ = dotted
    function.__module__ = "sandbox"
    function.__doc__ = doc
    function.__annotations__ = {}  # help() shows the docstring, not our wrapper's annotations
    return function
