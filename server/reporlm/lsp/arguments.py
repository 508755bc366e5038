"""Command arguments: one JSON object each, checked here so a bad call gets a clear InvalidParams.

`ask` and `plan` also take a bare string (the question or goal) for hand-typed calls. Every command
takes an optional `folder`: the workspace folder it is about (see reporlm.lsp.folders).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from reporlm.lsp.options import snake


@dataclass(frozen=True)
class AskArgs:
    question: str
    scope: str | None = None
    budget: Mapping[str, Any] | None = None
    folder: str | None = None
    """A workspace folder's URI, or a document URI inside one; needed when several are open."""


@dataclass(frozen=True)
class PlanArgs:
    goal: str
    scope: str | None = None
    budget: Mapping[str, Any] | None = None
    folder: str | None = None


@dataclass(frozen=True)
class ExplainArgs:
    uri: str
    line: int
    """0-based, as LSP counts."""
    character: int
    """0-based, in the position encoding agreed at initialize (UTF-16 unless said otherwise)."""
    budget: Mapping[str, Any] | None = None
    folder: str | None = None
    """Without it, the folder holding `uri`."""


@dataclass(frozen=True)
class StatusArgs:
    folder: str | None = None
    """The folder the top-level fields describe; without it, the first. Every folder is listed."""


MAX_PATH_CHARS = 4096
"""A folder, scope or URI longer than this names no file (PATH_MAX): refused before it reaches the OS."""


def parse_ask(args: Sequence[Any]) -> AskArgs:
    obj = _one_object("reporlm.server.ask", args, text_key="question")
    return AskArgs(
        question=_text(obj, "question"),
        scope=_path(obj, "scope"),
        budget=_budget(obj),
        folder=_path(obj, "folder"),
    )


def parse_plan(args: Sequence[Any]) -> PlanArgs:
    obj = _one_object("reporlm.server.plan", args, text_key="goal")
    return PlanArgs(
        goal=_text(obj, "goal"),
        scope=_path(obj, "scope"),
        budget=_budget(obj),
        folder=_path(obj, "folder"),
    )


def parse_explain(args: Sequence[Any]) -> ExplainArgs:
    obj = _one_object("reporlm.server.explain", args)
    uri = _text(obj, "uri")
    if len(uri) > MAX_PATH_CHARS:
        raise JsonRpcInvalidParams(f"uri is {len(uri):,} characters long: no file has such a name")
    position = obj.get("position")
    if not isinstance(position, Mapping):
        raise JsonRpcInvalidParams("explain needs position: {line, character} (0-based)")
    line, character = position.get("line"), position.get("character")
    for name, value in (("line", line), ("character", character)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise JsonRpcInvalidParams(f"position.{name} must be a whole number ≥ 0, not {value!r}")
    assert isinstance(line, int) and isinstance(character, int)
    budget, folder = _budget(obj), _path(obj, "folder")
    return ExplainArgs(uri=uri, line=line, character=character, budget=budget, folder=folder)


def parse_status(args: Sequence[Any]) -> StatusArgs:
    """Status has always taken anything (`{}`, nothing, null); only an object's `folder` is read."""
    if len(args) == 1 and isinstance(args[0], Mapping):
        return StatusArgs(folder=_path(args[0], "folder"))
    return StatusArgs()


def _one_object(command: str, args: Sequence[Any], *, text_key: str | None = None) -> Mapping[str, Any]:
    if len(args) != 1:
        raise JsonRpcInvalidParams(f"{command} takes one argument, an object; got {len(args)} arguments")
    (arg,) = args
    if text_key is not None and isinstance(arg, str):
        return {text_key: arg}
    if not isinstance(arg, Mapping):
        raise JsonRpcInvalidParams(f"{command} takes an object argument, not {type(arg).__name__}")
    return arg


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise JsonRpcInvalidParams(f"{key} is required: a non-empty string")
    return value.strip()


def _optional_text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise JsonRpcInvalidParams(f"{key} must be a string, not {type(value).__name__}")
    return value


def _path(obj: Mapping[str, Any], key: str) -> str | None:
    value = _optional_text(obj, key)
    if value is not None and len(value) > MAX_PATH_CHARS:
        raise JsonRpcInvalidParams(f"{key} is {len(value):,} characters long: no folder has such a name")
    return value


def _budget(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    value = obj.get("budget")
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise JsonRpcInvalidParams('budget must be an object of limits, e.g. {"max_iterations": 10}')
    return {snake(str(k)): v for k, v in value.items()}
