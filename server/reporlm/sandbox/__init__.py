"""The sandbox: a separate, isolated worker process that runs model-written Python code.

The engine uses :class:`Sandbox` (``start``, ``execute``, ``get_variable``, ``close``); see
``host.py`` for the API, ``isolation.py`` and ``seccomp.py`` for the kernel barriers, ``audit.py``
for the early, explained refusals, ``repl.py`` for what the model's code sees, and ``protocol.py``
for the wire format.
"""

from reporlm.sandbox.host import (
    CallHandler,
    ExecResult,
    IsolationOptions,
    Sandbox,
    SandboxLimits,
    SandboxUnavailable,
)

__all__ = ["CallHandler", "ExecResult", "IsolationOptions", "Sandbox", "SandboxLimits", "SandboxUnavailable"]
