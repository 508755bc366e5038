"""The sandbox worker: a separate ``python -I`` process the host starts; never imported by the host.

::

    host (server)                    outer (this module, host pid ns)      inner (pid 1 of a new pid ns)
    ───────────────                  ───────────────────────────────       ──────────────────────────────
    spawn, env={} ──config line──▶   unshare, build root, pivot
                                     fork ───────────────────────────────▶ drop privileges, rlimits,
                                     drop privileges, wait                 seccomp, audit hook
      ◀══════════════ newline-delimited JSON on the worker's stdin/stdout ══════════▶ REPL loop

The outer process only waits for the inner one (it must exist: a new pid namespace takes effect
for children only) and kills it when asked (SIGTERM). Both die with their parent (PDEATHSIG).
Everything is imported before the root changes, so nothing needs the package's files afterwards.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import select
import signal
import sys
from typing import Any, NoReturn

from reporlm.sandbox import audit, isolation, protocol, seccomp
from reporlm.sandbox.repl import Limits, Repl

_MAX_VARIABLES = 2000


def main() -> NoReturn:
    config = _read_config()
    try:
        _die_with(config["host_pid"])
        plan = isolation.plan_root()
        options = config["options"]
        mode = isolation.enter_namespaces(options["user_namespace"])
        owner = (isolation.NOBODY, isolation.NOBODY) if mode == "root" else (os.geteuid(), os.getegid())
        isolation.build_root(plan, scratch_mb=config["limits"]["scratch_mb"], owner=owner)
    except Exception as exc:
        _fatal(f"cannot isolate the worker: {exc}")
    parent_alive_r, parent_alive_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(parent_alive_w)
        _inner(config, mode, parent_alive_r)
    os.close(parent_alive_r)
    _outer(child, mode, config["host_pid"])


def _read_config() -> dict[str, Any]:
    # Byte by byte, not through a buffered reader: whatever follows the line belongs to the
    # channel that the inner process opens on the same fd.
    line = bytearray()
    while not line.endswith(b"\n") and (byte := os.read(0, 1)):
        line += byte
    try:
        return json.loads(line)
    except ValueError:
        _fatal("the first line from the host was not a JSON configuration")


def _fatal(message: str) -> NoReturn:
    try:
        os.write(1, protocol.dumps({"type": "fatal", "message": message}))
    finally:
        os._exit(2)


def _die_with(host_pid: int) -> None:
    isolation.set_parent_death_signal()
    if os.getppid() != host_pid:  # the host died before the line above
        os._exit(1)


# --- outer ---------------------------------------------------------------------------------------


def _outer(child: int, mode: isolation.Mode, host_pid: int) -> NoReturn:
    signal.signal(signal.SIGTERM, lambda signum, frame: _kill(child))
    # The channel belongs to the inner process alone: the host sees EOF as soon as it ends.
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    try:
        isolation.drop_privileges(mode)
        _die_with(host_pid)
    except BaseException:
        _kill(child)
    while True:
        try:
            _, status = os.waitpid(child, 0)
        except ChildProcessError:
            os._exit(1)
        if os.WIFEXITED(status):
            os._exit(os.WEXITSTATUS(status))
        if os.WIFSIGNALED(status):
            os._exit(128 + os.WTERMSIG(status))


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


# --- inner ---------------------------------------------------------------------------------------


def _inner(config: dict[str, Any], mode: isolation.Mode, parent_alive: int) -> NoReturn:
    channel = _take_channel()
    try:
        isolation.drop_privileges(mode)
        isolation.set_parent_death_signal()
        if select.select([parent_alive], [], [], 0)[0]:  # EOF: the outer process is already gone
            os._exit(1)
        os.close(parent_alive)
        limits = config["limits"]
        isolation.apply_rlimits(memory_mb=limits["memory_mb"], file_mb=limits["scratch_mb"])
        _clean_process_state()
        options = config["options"]
        use_seccomp = options["seccomp"] and seccomp.supported()
        if use_seccomp:
            seccomp.install()
        worker = Worker(channel, config)
        if options["audit_hook"]:
            audit.install(isolation.SCRATCH)
    except BaseException as exc:
        channel.send({"type": "fatal", "message": f"cannot isolate the worker: {type(exc).__name__}: {exc}"})
        os._exit(2)
    info = {"mode": mode, "uid": os.getuid(), "pid": os.getpid(), "seccomp": use_seccomp}
    channel.send({"type": "ready", "info": info | {"audit_hook": options["audit_hook"]}})
    worker.serve()


def _take_channel() -> Channel:
    """Move the channel off fds 0 and 1, so nothing the model's code prints at the C level (fd 1)
    can break the framing: fd 1 then goes where fd 2 goes, the host's log."""
    channel = Channel(os.dup(0), os.dup(1))
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    return channel


def _clean_process_state() -> None:
    os.environ.clear()
    os.environ.update({"HOME": isolation.SCRATCH, "TMPDIR": isolation.SCRATCH, "LANG": "C.UTF-8"})
    sys.stdin = io.StringIO()  # input() sees end of file
    sys.path[:] = [p for p in sys.path if os.path.isdir(p)]
    importlib.invalidate_caches()


class Channel:
    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._reader = os.fdopen(read_fd, "rb")
        self._write_fd = write_fd

    def send(self, message: dict[str, Any]) -> None:
        data = memoryview(protocol.dumps(message))
        while data:
            data = data[os.write(self._write_fd, data) :]

    def receive(self) -> dict[str, Any]:
        line = self._reader.readline()
        if not line:
            os._exit(0)  # the host closed the channel
        try:
            return protocol.loads(line)
        except protocol.ProtocolError:
            os._exit(3)


class Worker:
    def __init__(self, channel: Channel, config: dict[str, Any]) -> None:
        self._channel = channel
        self._calls = 0
        limits = config["limits"]
        self._repl = Repl(
            config["functions"],
            self._call,
            Limits(
                wall_seconds=limits["wall_seconds"],
                cpu_seconds=limits["cpu_seconds"],
                memory_mb=limits["memory_mb"],
                output_chars=min(limits["output_chars"], protocol.MAX_TEXT_CHARS),
            ),
        )

    def serve(self) -> NoReturn:
        while True:
            message = self._channel.receive()
            kind, request_id = message["type"], message.get("id")
            if kind == "exec" and isinstance(message.get("code"), str):
                result = self._repl.execute(message["code"])
                self._channel.send(
                    {
                        "type": "done",
                        "id": request_id,
                        "output": result.output,
                        "error": result.error,
                        "final": _clip(result.final),
                        "variables": result.variables[:_MAX_VARIABLES],
                    }
                )
            elif kind == "get" and isinstance(message.get("name"), str):
                text = self._repl.value_text(message["name"])
                self._channel.send({"type": "value", "id": request_id, "text": _clip(text)})
            else:
                os._exit(3)  # the host does not send anything else: out of step, start over

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            encoded_args = protocol.encode_value(list(args), strict=True)
            encoded_kwargs = protocol.encode_value(kwargs, strict=True)
        except TypeError as exc:
            raise TypeError(f"{name}(): {exc}") from None
        self._calls += 1
        request = {
            "type": "call",
            "id": self._calls,
            "name": name,
            "args": encoded_args,
            "kwargs": encoded_kwargs,
        }
        if len(protocol.dumps(request)) > protocol.MAX_LINE_BYTES:
            raise ValueError(f"{name}(): the arguments are too large to send to the host")
        self._channel.send(request)
        reply = self._channel.receive()
        if reply.get("type") != "result" or reply.get("id") != self._calls:
            os._exit(3)
        if reply.get("ok"):
            return protocol.decode_value(reply.get("value"), self._repl.make_record)
        raise protocol.rebuild_exception(reply.get("exc_type"), reply.get("message")) from None


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= protocol.MAX_TEXT_CHARS:
        return text
    return (
        text[: protocol.MAX_TEXT_CHARS] + f"\n[... {len(text) - protocol.MAX_TEXT_CHARS} characters cut ...]"
    )


if __name__ == "__main__":
    main()
