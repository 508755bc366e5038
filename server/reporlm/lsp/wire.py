"""Every name and code that crosses the wire between the reporlm server and its clients.

Clients (the VS Code extension, the headless CLI, CI bots) should mirror this file, not grep the
server for string literals.

Commands (`workspace/executeCommand`, one object argument each):

| command | argument | result |
|---|---|---|
| `reporlm.server.ask` | `{question, scope?, budget?, folder?}` | an answer (below) |
| `reporlm.server.plan` | `{goal, scope?, budget?, folder?}` | an answer plus `plan`, `steps`, `risks` |
| `reporlm.server.explain` | `{uri, position, budget?, folder?}` | an answer, plus `symbol`, `location` |
| `reporlm.server.status` | `{folder?}` | server, repository, index, provider, models, budget, runs, folders |

`folder` names the workspace folder a command is about: the folder's URI, or the URI of a document
inside it (the innermost folder holding it, when folders nest). It may be left out when one folder
is open; explain then takes the folder holding `uri`. A folder the server does not have, or none
among several, is an InvalidParams error that lists the folders. Status describes the folder named
(else the first) at its top level, as with a single folder, and lists every folder in `folders`:
`[{uri, name, repo, index, provider, model, sub_model, budget, runs, api_key_set,
configuration_error, workspace_error}]`; a folder's `index.state` is "not opened" until a command
first needs it, and while it is "indexing", `index.parsed` and `index.to_parse` say how far the
symbol index has got (once it knows what it parses).

An answer is `{answer, citations: [Location], partial, usage, trace_id}` plus `reason` (why the run
ended: "final", "cancelled", or the budget that ran out), `cited` (every `path:line` the answer
cites, in order: `{path, start, end, verified, reason}`, paths relative to `folder`), `iterations`,
`sub_calls`, `seconds`, `trace_file` and `folder` (the URI of the workspace folder it is about).
`usage` is `{root, sub, total}`, each `{input_tokens, output_tokens, cache_read_tokens,
cache_write_tokens, cost_usd}`. `budget` takes the limits of `reporlm.engine.budget.Limits` by
name (`max_iterations`, `max_cost_usd`, ...).

A plan's `steps` (and `risks`) are `[{title, detail, locations: [Location], unverified: [{kind,
text, reason}]}]`: every file, line range and symbol a step names is looked up in the repository;
the ones found are `locations`, the others are flagged in `unverified`, never dropped.
"""

from __future__ import annotations

from pygls.exceptions import JsonRpcException

SERVER_NAME = "reporlm"

ASK = "reporlm.server.ask"
PLAN = "reporlm.server.plan"
EXPLAIN = "reporlm.server.explain"
STATUS = "reporlm.server.status"
COMMANDS = (ASK, PLAN, EXPLAIN, STATUS)

TRACE = "reporlm/trace"
"""Notification: one trace event of a run (the dict the engine's Tracer emits; `run` is its trace_id)."""

CONFIGURATION_SECTION = "reporlm"
"""`workspace/didChangeConfiguration` settings may hold the options under this key, or be them."""


class ErrorCodes:
    """Application error codes (outside the ranges JSON-RPC and LSP reserve).

    Also: -32602 InvalidParams for bad command arguments, -32800 RequestCancelled for a run
    cancelled before it started.
    """

    CONFIGURATION = 1001
    """The settings cannot work: unknown key, missing key file, no model available."""
    PROVIDER = 1002
    """The model provider failed for good (auth, quota, network) after its retries."""
    BUSY = 1003
    """The server already runs its maximum of concurrent runs; try again when one ends."""
    SANDBOX = 1004
    """The code sandbox cannot start on this machine."""


class ConfigurationFailed(JsonRpcException):
    CODE = ErrorCodes.CONFIGURATION
    MESSAGE = "configuration error"


class ProviderFailed(JsonRpcException):
    CODE = ErrorCodes.PROVIDER
    MESSAGE = "the model provider failed"


class Busy(JsonRpcException):
    CODE = ErrorCodes.BUSY
    MESSAGE = "busy"


class SandboxFailed(JsonRpcException):
    CODE = ErrorCodes.SANDBOX
    MESSAGE = "the code sandbox cannot start here"
