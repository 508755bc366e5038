"""An audit hook that refuses, with a message the model can act on, what the sandbox forbids.

This is not the barrier: CPython's own documentation says audit hooks cannot stop a determined
attacker (ctypes, or corrupting the interpreter's memory, gets around them). The kernel barriers
(namespaces, read-only mounts, no privileges, rlimits, seccomp) hold without it. The hook exists
so that an honest attempt fails early with a clear explanation instead of a bare EPERM.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

_FORBIDDEN_EVENTS = {
    "os.system": "running shell commands",
    "os.exec": "running programs",
    "os.posix_spawn": "starting processes",
    "os.spawn": "starting processes",
    "os.fork": "starting processes",
    "os.forkpty": "starting processes",
    "subprocess.Popen": "starting processes",
    "pty.spawn": "starting processes",
    "socket.__new__": "network access",
    "socket.connect": "network access",
    "socket.bind": "network access",
    "socket.getaddrinfo": "network access",
    "socket.gethostbyname": "network access",
    "gc.get_objects": "walking the interpreter's objects",
    "gc.get_referrers": "walking the interpreter's objects",
    "gc.get_referents": "walking the interpreter's objects",
}
_FORBIDDEN_PREFIXES = {"ctypes.": "loading or calling native code (ctypes)"}
_FORBIDDEN_IMPORTS = {"_posixsubprocess": "starting processes"}
# event -> positions of the arguments that name a path the event changes
_PATH_WRITES = {
    **dict.fromkeys(("os.mkdir", "os.remove", "os.rmdir", "os.truncate", "os.chmod"), (0,)),
    **dict.fromkeys(("os.chown", "os.utime", "os.mkfifo", "os.mknod", "shutil.rmtree"), (0,)),
    **dict.fromkeys(("os.symlink", "os.link", "shutil.copyfile"), (1,)),
    **dict.fromkeys(("os.rename", "shutil.move"), (0, 1)),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def make_hook(scratch: str) -> Callable[[str, tuple[Any, ...]], None]:
    writable = (scratch.rstrip("/") + "/", "/dev/null")

    def refuse(what: str) -> None:
        raise PermissionError(
            f"sandbox: {what} is not allowed here. The code runs without network, processes or "
            f"native code; files can be written only under {scratch}; read the repository through `repo`."
        )

    def outside_scratch(path: Any) -> bool:
        if isinstance(path, int):
            return False  # an fd already open
        try:
            text = os.fsdecode(path)
        except TypeError:
            return True
        full = os.path.normpath(os.path.join(os.getcwd(), text))
        return not (full + "/").startswith(writable[0]) and full != writable[1]

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = (*args, None, None, None)[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writes and outside_scratch(path):
                refuse(f"writing {path!r}")
            return
        if event in _FORBIDDEN_EVENTS:
            refuse(_FORBIDDEN_EVENTS[event])
        for position in _PATH_WRITES.get(event, ()):
            if position < len(args) and outside_scratch(args[position]):
                refuse(f"changing {args[position]!r}")
        if event == "import" and args and args[0] in _FORBIDDEN_IMPORTS:
            refuse(_FORBIDDEN_IMPORTS[args[0]])
        for prefix, what in _FORBIDDEN_PREFIXES.items():
            if event.startswith(prefix):
                refuse(what)

    return hook


def install(scratch: str) -> None:
    sys.addaudithook(make_hook(scratch))
