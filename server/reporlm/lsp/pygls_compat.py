"""Every place reporlm overrides pygls internals, each with its reason (written against pygls 2.1.1).

The version is checked at import, so an upgrade fails here, loudly, rather than somewhere subtle.
Clients are untrusted input: whatever a frame holds gets a clear answer, or a logged line when
there is no one to answer, and the server goes on serving.

`ReporlmProtocol`:
- `receive` replaces the parsing in pygls.io_.run_async (the frames come from reporlm.lsp.framing):
  only the top-level object is a message (pygls's `object_hook` turned every nested object with a
  `jsonrpc` key into one, and answered ids that were never sent); a batch, a non-object, a bad
  `id` or a non-string `method` gets InvalidRequest (pygls: no answer, or -32603 TypeError); a body
  that is not JSON gets ParseError; NaN and Infinity are not JSON; a lone surrogate in a string
  (valid JSON, but no UTF-8 can hold it) becomes U+FFFD.
- `handle_message`: requests before `initialize` get ServerNotInitialized (-32002) and after
  `shutdown` InvalidRequest, as LSP says (pygls served the first and silently dropped the second).
- `structure_message`: a request whose params do not fit its method still gets an answer, and the
  problem is logged in one line (pygls logs a traceback and answers nothing).
- `_handle_cancel_notification`: cancelling a run stops the run, which answers with its partial
  result (pygls answers the request itself with an error and lets the handler run on).
- `lsp_exit`: the server's main coroutine ends (pygls calls sys.exit inside the event loop, which
  can land while asyncio is already shutting down).
- `lsp_workspace__execute_command`: an unknown command's error lists the known ones; the handler
  sees the request's params (its work-done token); finished handlers are forgotten (pygls files
  each under a random id and keeps it, result and all).

`CompatLanguageServer.report_server_error`: a (rate-limited) log line, not a `window/showMessage`
popup for every notification that failed.

Upstream: pygls issue #621 (a reply to a cancelled request raises InvalidStateError) is the only
one of these we know to be filed; the others are reporlm's stricter reading of untrusted input.

Where pygls is worked around outside this module (each of them is our own code in pygls's place,
kept next to what it serves):
- `lsp/framing.py` reads frames instead of `pygls.io_.run_async`'s reader (bounded headers and
  bodies, resynchronising after garbage);
- `lsp/progress.py` shields the end of a cancelled request's progress (issue #621);
- `lsp/client.py` (the headless client) keeps unknown notifications' params as dicts instead of
  pygls's namedtuples;
- `lsp/logs.py` sets pygls's loggers to WARNING (they log every message body at INFO) and drops
  the tracebacks of errors that were answered to the client as what they are.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib.metadata
import json
import logging
import re
from typing import TYPE_CHECKING, Any

import cattrs
from lsprotocol import types
from pygls.exceptions import FeatureRequestError, JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage, LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import JsonRPCResponseMessage

from reporlm.llm._errors import short

if TYPE_CHECKING:
    from reporlm.lsp.server import ReporlmServer

PYGLS_VERSION = "2.1.1"
if importlib.metadata.version("pygls") != PYGLS_VERSION:
    raise ImportError(
        f"reporlm's language server is written against pygls {PYGLS_VERSION}, not "
        f"{importlib.metadata.version('pygls')}: check every override in {__name__} first"
    )

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
SERVER_NOT_INITIALIZED = -32002

COMMAND_PARAMS: contextvars.ContextVar[types.ExecuteCommandParams | None] = contextvars.ContextVar(
    "reporlm_command_params", default=None
)
"""The params of the `workspace/executeCommand` request a command handler runs for."""


class _Answered:
    """Stands for a message that was already answered with an error while it was being read."""


class ReporlmProtocol(LanguageServerProtocol):
    _server: ReporlmServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._initialize_received = False
        self._shutdown_received = False
        super().__init__(*args, **kwargs)  # (which reads every attribute, properties included)

    @property
    def shutdown_received(self) -> bool:
        return self._shutdown_received

    # -- reading messages ------------------------------------------------------------------------

    def receive(self, body: bytes) -> None:
        """Handle the body of one frame: a JSON-RPC message, or an error answer for what is not one."""
        try:
            data = json.loads(body, parse_constant=_no_constant)
            if _SURROGATE_ESCAPE.search(body) and isinstance(data, dict):
                # What is read, not the id: an answer echoes the id as it came.
                data = {k: v if k == "id" else _well_formed(v) for k, v in data.items()}
        except (ValueError, RecursionError) as exc:  # also bad UTF-8 and numbers of 5,000 digits
            self._refuse(None, PARSE_ERROR, f"the message is not JSON: {short(str(exc), 200)}")
            return
        problem, answer, msg_id = _shape(data)
        if problem:
            if answer:
                self._refuse(msg_id, INVALID_REQUEST, problem)
            else:
                log.warning("ignored a message: %s", problem)
            return
        message = self.structure_message(data)
        if message is not None:
            self.handle_message(message)

    def structure_message(self, data: dict[str, Any]) -> Any:
        """The typed message for `data` (a checked top-level object); None or _Answered when it
        does not fit its method, after saying so."""
        if "jsonrpc" not in data:
            return data  # not a message (as json's object_hook, which pygls's reader used, sees them)
        method = data.get("method")
        if method is not None and "params" not in data:
            data = {**data, "params": None}  # JSON-RPC lets params out; pygls's generic types need it
        try:
            if "id" in data and "error" in data:
                return self._converter.structure(data, types.ResponseErrorMessage)
            if "id" in data and method is not None:
                request = self._converter.structure(
                    data, self.get_message_type(method) or JsonRPCRequestMessage
                )
                if not hasattr(request, "id"):  # LSP's type for the method is a notification's
                    self._refuse(data["id"], INVALID_REQUEST, f"{method} is a notification: it takes no id")
                    return _Answered()
                return request
            if "id" in data:
                result_type = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
                return self._converter.structure(data, result_type)
            return self._converter.structure(data, self.get_message_type(method) or JsonRPCNotification)
        except Exception as exc:  # cattrs' validation errors, and whatever a hook raises on odd input
            detail = short(_describe_structure_error(exc), 300)
        if "id" in data and method is not None:
            # A request owes its sender an answer even when its params make no sense.
            log.warning("malformed %s request: %s", method, detail)
            self._send_response(
                data["id"],
                error=types.ResponseError(
                    code=JsonRpcInvalidParams.CODE, message=f"malformed {method} request: {detail}"
                ),
            )
            return _Answered()
        if "id" in data:  # a reply to one of our requests: whoever waits for it hears why
            log.warning("malformed response to request %s: %s", data["id"], detail)
            future = self._request_futures.pop(data["id"], None)
            if future is not None and not future.done():
                future.set_exception(JsonRpcInvalidParams(f"malformed response: {detail}"))
            return None
        log.warning("malformed %s notification: %s", method, detail)
        return None

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Answered):
            return
        method = getattr(message, "method", None)
        request = method is not None and getattr(message, "id", None) is not None
        if method is not None and method != types.EXIT:
            refusal = self._lifecycle(method)
            if refusal is not None:
                if request:
                    self._refuse(message.id, *refusal)
                else:  # LSP: notifications then are dropped
                    log.info("ignored the %s notification: %s", method, refusal[1])
                return
            if method == types.INITIALIZE:
                self._initialize_received = True
            elif method == types.SHUTDOWN:
                self._shutdown_received = True
        super().handle_message(message)

    def _lifecycle(self, method: str) -> tuple[int, str] | None:
        """Why `method` may not be served now (an error code and a message), or None."""
        method = short(method, 100)
        if self._shutdown_received:
            return (
                INVALID_REQUEST,
                f"the server is shutting down: {method} after shutdown (only exit is left)",
            )
        if method == types.INITIALIZE and self._initialize_received:
            return INVALID_REQUEST, "initialize was already received"
        if method != types.INITIALIZE and not self._initialize_received:
            return SERVER_NOT_INITIALIZED, f"the server is not initialized: {method} before initialize"
        return None

    def _refuse(self, msg_id: str | int | None, code: int, message: str) -> None:
        """Answer a request with an error; with no usable id, as JSON-RPC says, with id null."""
        log.warning("refused a message: %s", message)
        if msg_id is not None:
            self._send_response(msg_id, error=types.ResponseError(code=code, message=message))
        else:  # lsprotocol's message type would drop the null id, which JSON-RPC requires
            self._send_data({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}})

    # -- reporlm's handling of standard methods --------------------------------------------------

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        control = self._server.runs.get(msg_id)
        if control is None:
            super()._handle_cancel_notification(msg_id)
        else:  # the run stops and its handler answers with the partial result
            control.cancel()

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Any:
        """Stop serving: the server's main coroutine ends."""
        if (handler := self.fm.features.get(types.EXIT)) is not None:
            yield handler, args, None
        self._server.exit_code = 0 if self._shutdown else 1
        self._server.exited.set()

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams) -> Any:
        if params.command not in self.fm.commands:
            raise JsonRpcInvalidParams(
                f"unknown command {short(repr(params.command), 100)}; "
                f"this server has: {', '.join(sorted(self.fm.commands))}"
            )
        # The handler runs in a task started from this context: it sees the request's work-done token.
        COMMAND_PARAMS.set(params)
        result = yield from super().lsp_workspace__execute_command(params)
        self._forget_finished_handlers()
        return result

    def _forget_finished_handlers(self) -> None:
        for key, future in list(self._request_futures.items()):
            if isinstance(future, asyncio.Future) and future.done():
                self._request_futures.pop(key, None)


class CompatLanguageServer(LanguageServer):
    def report_server_error(self, error: Exception, source: Any) -> None:
        if source is FeatureRequestError:
            return  # answered to the request already (as pygls does too)
        log.warning("%s: %s", getattr(source, "__name__", source), short(str(error), 300))


def _shape(data: Any) -> tuple[str, bool, str | int | None]:
    """What is wrong with a top-level JSON value as a message ("" if nothing), whether that
    deserves an error answer (requests and what cannot be told apart from one do; responses
    never), and the id to answer."""
    if isinstance(data, list):
        return "a batch: LSP has no batches, send each message in its own frame", True, None
    if not isinstance(data, dict):
        return f"a message is a JSON object, not {_json_kind(data)}", True, None
    msg_id = data.get("id")
    id_ok = isinstance(msg_id, int | str) and not isinstance(msg_id, bool)
    request = "method" in data
    if "id" in data and not id_ok:
        return f"id must be an integer or a string, not {_json_kind(msg_id)}", request, None
    answer_id = msg_id if id_ok else None
    if data.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"', request or "id" not in data, answer_id if request else None
    if request:
        if not isinstance(data["method"], str):
            return f"method must be a string, not {_json_kind(data['method'])}", True, answer_id
        if data.get("params") is not None and not isinstance(data["params"], dict | list):
            return f"params must be an object or an array, not {_json_kind(data['params'])}", True, answer_id
        return "", False, answer_id
    if "id" not in data:
        return "neither a request, a notification nor a response (no method, no id)", True, None
    if ("result" in data) == ("error" in data):
        return f"a response to {msg_id!r} needs exactly one of result and error", False, None
    return "", False, answer_id


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _well_formed(value: Any) -> Any:
    """`value` with every lone surrogate (JSON allows the escape; no UTF-8 can hold it, so the
    first write to a file, a database or a provider would fail) replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_well_formed(v) for v in value]
    if isinstance(value, dict):
        return {_well_formed(k): _well_formed(v) for k, v in value.items()}
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _describe_structure_error(exc: Exception) -> str:
    cause = exc.__cause__ if isinstance(exc, JsonRpcException) else exc
    if isinstance(cause, cattrs.ClassValidationError):
        return "; ".join(cattrs.transform_error(cause))
    return str(cause or exc) or type(exc).__name__
