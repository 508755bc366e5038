"""The host side of the sandbox: starts the worker, runs blocks in it, answers its calls.

Everything the worker sends is treated as hostile input: sizes are capped, shapes checked, and a
worker that breaks the protocol is killed and replaced (the session goes on with a fresh REPL).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reporlm.sandbox import protocol

log = logging.getLogger(__name__)

KILL_GRACE_SECONDS = 2.0
"""How long past its wall-clock limit a block may take to stop by itself before it is killed."""
START_TIMEOUT_SECONDS = 30.0
_TERMINATE_WAIT_SECONDS = 2.0
_STDERR_LOG_BYTES = 64 * 1024
_STDERR_TAIL_LINES = 20

CallHandler = Callable[[str, list[Any], dict[str, Any]], Awaitable[Any]]

_SERVER_DIR = str(Path(__file__).resolve().parents[2])
_BOOTSTRAP = "import sys; sys.path.insert(0, {server_dir!r}); from reporlm.sandbox.worker import main; main()"


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float = 60.0
    """Per block: time the block's code runs in the worker (time the host spends answering its
    calls, such as model calls, does not count)."""
    cpu_seconds: float = 60.0
    """Per block: CPU time of the worker."""
    memory_mb: int = 1024
    """Address space of the worker process; past it, allocations raise MemoryError."""
    output_chars: int = 1_000_000
    """Captured stdout+stderr kept per block (head and tail; the engine truncates further)."""
    scratch_mb: int = 64
    """Size of the writable scratch folder (/tmp, the working directory) and of any one file."""

    def __post_init__(self) -> None:
        if not (self.wall_seconds > 0 and self.cpu_seconds > 0):
            raise ValueError("wall_seconds and cpu_seconds must be positive")
        if self.memory_mb < 64 or self.scratch_mb < 1 or self.output_chars < 100:
            raise ValueError(
                "memory_mb must be at least 64, scratch_mb at least 1, output_chars at least 100"
            )


@dataclass(frozen=True)
class IsolationOptions:
    """Switches for the layers that are defence in depth. Leave them on: tests turn them off only
    to prove that the kernel barriers below hold by themselves."""

    audit_hook: bool = True
    """Refuse forbidden operations early, with a message the model can act on."""
    seccomp: bool = True
    """A syscall filter: no process, socket, namespace, mount, ptrace, io_uring, bpf..."""
    user_namespace: bool | None = None
    """None: a user namespace only when not root (or when root may not create namespaces)."""


@dataclass(frozen=True)
class ExecResult:
    output: str
    """Captured stdout+stderr of the block, traceback included."""
    error: str | None
    """One-line summary if the block raised or was killed, else None."""
    final: str | None
    """Set when the code called FINAL(text) / FINAL_VAR(name)."""
    killed: bool
    """The worker process was killed or died during the block (a limit it could not survive)."""
    reset: bool
    """REPL state was lost (a new worker was started): earlier variables and imports are gone."""
    seconds: float
    variables: list[str]
    """User-defined names in the namespace after the block."""


class SandboxUnavailable(Exception):
    """Isolation cannot be set up here; the message says why and what is needed."""


class _WorkerFailed(Exception):
    """The worker died, or sent something outside the protocol."""


class _Worker:
    """One worker process and its channel."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.info: dict[str, Any] = {}
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
        self._stderr_task = asyncio.create_task(self._drain_stderr())

    @classmethod
    async def spawn(cls, config: dict[str, Any]) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-X",
            "utf8",
            "-c",
            _BOOTSTRAP.format(server_dir=_SERVER_DIR),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={},  # nothing of the server's environment (API keys!) reaches the worker
            cwd="/",
            start_new_session=True,  # its own process group, killed as one if all else fails
            limit=protocol.MAX_LINE_BYTES,
        )
        worker = cls(process)
        try:
            await worker._handshake(config)
        except BaseException:
            await worker.terminate()
            raise
        return worker

    async def _handshake(self, config: dict[str, Any]) -> None:
        await self.send(config)
        try:
            message = await self.receive(START_TIMEOUT_SECONDS)
        except (_WorkerFailed, TimeoutError) as exc:
            raise SandboxUnavailable(
                f"the sandbox worker did not start: {exc}{self._stderr_note()}"
            ) from None
        if message["type"] == "fatal":
            raise SandboxUnavailable(str(message.get("message"))[:2000])
        if message["type"] != "ready" or not isinstance(message.get("info"), dict):
            raise SandboxUnavailable("the sandbox worker did not start: unexpected first message")
        self.info = message["info"]

    async def send(self, message: dict[str, Any]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(protocol.dumps(message))
            await stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise _WorkerFailed(f"the worker stopped reading ({exc})") from None

    async def receive(self, timeout: float) -> dict[str, Any]:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            # Not asyncio.wait_for: in Python 3.11 it loses a cancellation that lands as the line
            # arrives, and a cancelled run would then go on with its block to the end.
            async with asyncio.timeout(max(timeout, 0.0)):
                line = await stdout.readline()
        except ValueError:  # the line is longer than the stream's limit
            raise _WorkerFailed("the worker sent a message over the size limit") from None
        if not line:
            code = await self._exit_code()
            raise _WorkerFailed(_describe_exit(code))
        try:
            return protocol.loads(line)
        except protocol.ProtocolError as exc:
            raise _WorkerFailed(f"the worker sent a malformed message ({exc})") from None

    async def _exit_code(self) -> int | None:
        try:
            async with asyncio.timeout(1.0):
                return await self.process.wait()
        except TimeoutError:
            return None

    async def terminate(self) -> None:
        """Stop the worker and everything under it; returns once the process is reaped."""
        process = self.process
        if process.returncode is None:
            # SIGTERM asks the outer process to SIGKILL the inner one and reap it: both pids are
            # still unreaped children, so no signal can hit a recycled pid.
            _signal(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), _TERMINATE_WAIT_SECONDS)
            except TimeoutError:
                _signal(-process.pid, signal.SIGKILL)
                _signal(process.pid, signal.SIGKILL)
                await process.wait()
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(self._stderr_task, 1.0)
        except (TimeoutError, asyncio.CancelledError):
            self._stderr_task.cancel()

    def kill_now(self) -> None:
        """Synchronous last resort (no event loop needed): kill the process group."""
        if self.process.returncode is None:
            _signal(-self.process.pid, signal.SIGKILL)
            _signal(self.process.pid, signal.SIGKILL)

    async def _drain_stderr(self) -> None:
        """Read the worker's stderr (C-level output of the model's code lands there too) so the
        worker never blocks on a full pipe; log a bounded amount of it."""
        stream = self.process.stderr
        assert stream is not None
        logged = 0
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # an overlong line: skip what is buffered
                continue
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip("\n")
            self.stderr_tail.append(text[:500])
            if logged < _STDERR_LOG_BYTES:
                logged += len(line)
                log.debug("sandbox worker %s: %s", self.process.pid, text[:500])

    def _stderr_note(self) -> str:
        return ("\nworker stderr:\n" + "\n".join(self.stderr_tail)) if self.stderr_tail else ""


class Sandbox:
    """A persistent, isolated Python REPL for model-written code. Use :meth:`start`."""

    def __init__(
        self,
        functions: Mapping[str, str],
        handler: CallHandler,
        limits: SandboxLimits,
        options: IsolationOptions,
    ) -> None:
        self._functions = dict(functions)
        self._handler = handler
        self._limits = limits
        self._options = options
        self._worker: _Worker | None = None
        self._state_lost = False
        self._closed = False
        self._lock = asyncio.Lock()
        self._requests = 0

    @classmethod
    async def start(
        cls,
        *,
        functions: Mapping[str, str],
        handler: CallHandler,
        limits: SandboxLimits = SandboxLimits(),
        options: IsolationOptions = IsolationOptions(),
    ) -> Sandbox:
        if not sys.platform.startswith("linux"):
            raise SandboxUnavailable(
                f"the sandbox needs Linux namespaces; this is {sys.platform}. Run reporlm on Linux "
                "(or in a Linux container or VM)."
            )
        protocol.validate_function_names(functions)
        sandbox = cls(functions, handler, limits, options)
        sandbox._worker = await _Worker.spawn(sandbox._config())
        log.debug("sandbox worker %s ready: %s", sandbox.pid, sandbox._worker.info)
        if options.seccomp and not sandbox._worker.info.get("seccomp"):
            log.warning("no seccomp filter on this architecture: the other barriers still hold")
        return sandbox

    @property
    def pid(self) -> int | None:
        """The worker's process id (the model's code runs in its child), or None when none runs."""
        return self._worker.process.pid if self._worker else None

    @property
    def info(self) -> dict[str, Any]:
        """How the current worker is isolated (mode, uid, seccomp, audit_hook), for diagnostics."""
        return dict(self._worker.info) if self._worker else {}

    def _config(self) -> dict[str, Any]:
        return {
            "functions": self._functions,
            "limits": dataclasses.asdict(self._limits),
            "options": dataclasses.asdict(self._options),
            "host_pid": os.getpid(),
        }

    # --- the API the engine uses -----------------------------------------------------------------

    async def execute(self, code: str) -> ExecResult:
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, not {type(code).__name__}")
        async with self._lock:
            started = time.monotonic()
            worker = await self._ensure_worker()
            reset, self._state_lost = self._state_lost, False
            try:
                done = await self._run_block(worker, code)
            except asyncio.CancelledError:
                await self._discard_worker()
                raise
            except TimeoutError:
                error = (
                    f"TimeLimitExceeded: the block ran past its {self._limits.wall_seconds:g} s wall-clock "
                    "limit and did not stop; the worker was killed and restarted, so all variables and "
                    "imports are gone"
                )
                return await self._after_kill(worker, started, error, killed=True)
            except _WorkerFailed as exc:
                code_ = worker.process.returncode
                error = f"WorkerLost: {exc}; the worker was restarted, so all variables and imports are gone"
                return await self._after_kill(worker, started, error, killed=_by_signal(code_))
            return ExecResult(
                output=done["output"],
                error=done["error"],
                final=done["final"],
                killed=False,
                reset=reset,
                seconds=time.monotonic() - started,
                variables=done["variables"],
            )

    async def get_variable(self, name: str) -> str | None:
        """str() of a value in the namespace (for FINAL_VAR given as text), or None if there is none."""
        async with self._lock:
            worker = self._worker
            if worker is None or self._closed:
                return None
            self._requests += 1
            request_id = self._requests
            try:
                await worker.send({"type": "get", "id": request_id, "name": name})
                message = await worker.receive(self._limits.wall_seconds + KILL_GRACE_SECONDS)
                if message["type"] != "value" or message.get("id") != request_id:
                    raise _WorkerFailed("unexpected reply")
                text = message.get("text")
                if text is not None and not isinstance(text, str):
                    raise _WorkerFailed("malformed value")
                return None if text is None else _clean_text(text, protocol.MAX_TEXT_CHARS)
            except asyncio.CancelledError:
                await self._discard_worker()
                raise
            except (TimeoutError, _WorkerFailed) as exc:
                log.warning("sandbox worker %s failed reading %r: %s", worker.process.pid, name, exc)
                await self._discard_worker()
                return None

    async def close(self) -> None:
        """Kill the worker (and everything under it); idempotent."""
        self._closed = True
        await self._discard_worker()

    # --- internals -------------------------------------------------------------------------------

    async def _ensure_worker(self) -> _Worker:
        if self._closed:
            raise RuntimeError("the sandbox is closed")
        if self._worker is None or self._worker.process.returncode is not None:
            if self._worker is not None:
                await self._discard_worker()
            self._worker = await _Worker.spawn(self._config())
        return self._worker

    async def _discard_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        self._state_lost = True
        # Shielded: a second cancellation must not leave the process running.
        terminating = asyncio.ensure_future(worker.terminate())
        try:
            await asyncio.shield(terminating)
        except asyncio.CancelledError:
            worker.kill_now()
            raise

    async def _after_kill(self, worker: _Worker, started: float, error: str, *, killed: bool) -> ExecResult:
        tail = "\n".join(worker.stderr_tail)
        log.warning("sandbox worker %s lost: %s", worker.process.pid, error)
        if self._worker is worker:
            await self._discard_worker()
        else:  # close() got there first
            await worker.terminate()
        if not self._closed:
            try:
                self._worker = await _Worker.spawn(self._config())
                self._state_lost = False
            except SandboxUnavailable as exc:
                log.error("could not restart the sandbox worker: %s", exc)
        output = f"{error}\n" + (f"[worker stderr]\n{tail[-2000:]}\n" if tail else "")
        return ExecResult(
            output=output,
            error=error,
            final=None,
            killed=killed,
            reset=True,
            seconds=time.monotonic() - started,
            variables=[],
        )

    async def _run_block(self, worker: _Worker, code: str) -> dict[str, Any]:
        self._requests += 1
        request_id = self._requests
        await worker.send({"type": "exec", "id": request_id, "code": code})
        budget = self._limits.wall_seconds + KILL_GRACE_SECONDS
        used = 0.0  # time the worker had; time spent in the handler is not counted
        while True:
            waited_from = time.monotonic()
            message = await worker.receive(budget - used)
            used += time.monotonic() - waited_from
            if message["type"] == "call":
                await worker.send(await self._answer(message))
            elif message["type"] == "done" and message.get("id") == request_id:
                return self._checked_done(message)
            else:
                raise _WorkerFailed(f"unexpected message {message['type']!r}")

    async def _answer(self, message: dict[str, Any]) -> dict[str, Any]:
        name, args, kwargs = message.get("name"), message.get("args"), message.get("kwargs")
        if not (
            isinstance(name, str)
            and name in self._functions
            and isinstance(args, list)
            and isinstance(kwargs, dict)
            and isinstance(message.get("id"), int)
        ):
            raise _WorkerFailed("malformed call")
        reply: dict[str, Any] = {"type": "result", "id": message["id"]}
        try:
            decoded_args = protocol.decode_value(args, _host_record)
            decoded_kwargs = protocol.decode_value(kwargs, _host_record)
        except (protocol.ProtocolError, TypeError, RecursionError) as exc:
            raise _WorkerFailed(f"malformed call arguments ({exc})") from None
        try:
            value = await self._handler(name, decoded_args, decoded_kwargs)
            return reply | {"ok": True, "value": protocol.encode_value(value)}
        except Exception as exc:  # the handler's error goes to the model's code, as an exception
            log.debug("sandbox call %s failed: %r", name, exc)
            return reply | {"ok": False, **protocol.describe_exception(exc)}

    def _checked_done(self, message: dict[str, Any]) -> dict[str, Any]:
        output, error, final = message.get("output"), message.get("error"), message.get("final")
        variables = message.get("variables")
        if not (
            isinstance(output, str)
            and (error is None or isinstance(error, str))
            and (final is None or isinstance(final, str))
            and isinstance(variables, list)
            and all(isinstance(v, str) for v in variables)
        ):
            raise _WorkerFailed("malformed result")
        limit = self._limits.output_chars
        return {
            "output": _clean_text(output, limit + 200),  # room for the note on what was cut
            "error": None if error is None else _clean_text(error, 1000),
            "final": None if final is None else _clean_text(final, protocol.MAX_TEXT_CHARS),
            "variables": [_clean_text(v, 200) for v in variables[:2000]],
        }


def _host_record(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    return fields  # a record the model passes back arrives as a plain dict of its fields


def _clean_text(text: str, limit: int) -> str:
    # Lone surrogates can come through JSON escapes; they would break any later UTF-8 encoding.
    return text[:limit].encode("utf-8", "replace").decode("utf-8")


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def _by_signal(returncode: int | None) -> bool:
    return returncode is None or returncode < 0 or returncode >= 128


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "the worker closed its channel"
    number = -code if code < 0 else code - 128 if code > 128 else None
    if number is not None:
        try:
            return f"the worker was killed by signal {signal.Signals(number).name}"
        except ValueError:
            return f"the worker was killed by signal {number}"
    return f"the worker exited with code {code}"
