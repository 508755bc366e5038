"""The wire format between the host and the sandbox worker, shared by both sides.

One message is one line of JSON (``ensure_ascii`` so a line never holds a raw newline or a lone
surrogate that could not be encoded). Values crossing the boundary are JSON values plus two tags::

    {"$record": "Hit", "$fields": {"path": "a.py", "line": 3, "text": "x = 1"}, "$text": "a.py:3: x = 1"}
                                                                              a dataclass instance
    {"$dict": [[key, value], ...]}                                            a dict JSON cannot hold as is

Host -> worker:  exec {id, code} | get {id, name} | result {id, ok, value | exc_type, message}
Worker -> host:  ready {info} | fatal {message} | call {id, name, args, kwargs}
                 | done {id, output, error, final, variables} | value {id, text}

The worker runs untrusted code, so the host must treat everything it receives as hostile input:
this module only encodes and decodes; the host validates shapes.

This module is imported inside the worker: standard library only.
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import json
import keyword
import os
from collections.abc import Callable, Mapping
from typing import Any

RECORD_TAG = "$record"
FIELDS_TAG = "$fields"
TEXT_TAG = "$text"
"""A record's own str(), so the sandbox prints `a.py:3: x = 1` instead of a wall of field=value."""
DICT_TAG = "$dict"
_TAGS = frozenset({RECORD_TAG, DICT_TAG})

MAX_LINE_BYTES = 64 * 1024 * 1024
"""Longest message either side accepts; the worker refuses to send a call larger than this."""
MAX_TEXT_CHARS = 4_000_000
"""Longest text (output, final answer, a variable's value) the worker sends: escaped, it stays
well under MAX_LINE_BYTES."""


PROPERTY_MARK = "@property\n"
"""A docstring in the `functions` mapping that starts with this marks a read-only property: the
REPL reads it as `ns.name` (a call with no arguments to the host) instead of calling `ns.name()`.
Only names inside a namespace can be properties."""


class ProtocolError(Exception):
    """A message that does not follow the protocol."""


def dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def loads(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("a message must be a JSON object with a string 'type'")
    return message


def encode_value(value: Any, *, strict: bool = False) -> Any:
    """Turn a Python value into its JSON form.

    With ``strict`` (the worker sending arguments) an unsupported type raises TypeError; otherwise
    (the host sending results) it is sent as its ``str()``.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # JSON has no NaN or infinity; Python's json writes them anyway, keep them readable as text.
        return value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
    if isinstance(value, list | tuple | set | frozenset) and not _is_namedtuple(value):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [encode_value(item, strict=strict) for item in items]
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and not _TAGS.intersection(value):
            return {key: encode_value(item, strict=strict) for key, item in value.items()}
        return {
            DICT_TAG: [
                [encode_value(k, strict=strict), encode_value(v, strict=strict)] for k, v in value.items()
            ]
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [f.name for f in dataclasses.fields(value)] + _properties(type(value))
        fields = {name: encode_value(getattr(value, name), strict=strict) for name in names}
        record = {RECORD_TAG: type(value).__name__, FIELDS_TAG: fields}
        if type(value).__str__ is not object.__str__ and not strict:
            record[TEXT_TAG] = str(value)
        return record
    if _is_namedtuple(value):
        fields = {name: encode_value(getattr(value, name), strict=strict) for name in value._fields}
        return {RECORD_TAG: type(value).__name__, FIELDS_TAG: fields}
    if isinstance(value, enum.Enum):
        return encode_value(value.value, strict=strict)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if strict:
        raise TypeError(f"a value of type {type(value).__name__} cannot be sent to the host")
    return str(value)


def _properties(cls: type) -> list[str]:
    """Public computed attributes of a record class (`Symbol.qualified`): sent as fields too."""
    seen: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        for name, member in vars(klass).items():
            if isinstance(member, property) and not name.startswith("_"):
                seen[name] = None
    return list(seen)


def decode_value(value: Any, make_record: Callable[[str, dict[str, Any]], Any]) -> Any:
    """The inverse of :func:`encode_value`; ``make_record(name, fields)`` rebuilds a record (a
    record's own text, when sent, is in ``fields`` under TEXT_TAG)."""
    if isinstance(value, list):
        return [decode_value(item, make_record) for item in value]
    if isinstance(value, dict):
        if RECORD_TAG in value:
            name, fields = value.get(RECORD_TAG), value.get(FIELDS_TAG)
            if not isinstance(name, str) or not isinstance(fields, dict):
                raise ProtocolError("malformed record")
            decoded = {str(k): decode_value(v, make_record) for k, v in fields.items()}
            text = value.get(TEXT_TAG)
            if isinstance(text, str):
                decoded[TEXT_TAG] = text
            return make_record(name, decoded)
        if DICT_TAG in value:
            pairs = value[DICT_TAG]
            if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise ProtocolError("malformed dict")
            return {_hashable(decode_value(k, make_record)): decode_value(v, make_record) for k, v in pairs}
        return {key: decode_value(item, make_record) for key, item in value.items()}
    return value


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def describe_exception(exc: BaseException) -> dict[str, str]:
    """The part of an exception that crosses to the worker: a builtin class name, and the message."""
    cls = type(exc)
    # Only builtin classes are named: the worker must not be able to pick an arbitrary class.
    name = cls.__name__ if cls.__module__ == "builtins" else "RuntimeError"
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        message = str(exc.args[0])  # str(KeyError('x')) is "'x'", which would be quoted twice
    else:
        message = str(exc) or cls.__name__
    return {"exc_type": name, "message": message}


def rebuild_exception(exc_type: object, message: object) -> Exception:
    """An exception of the builtin class named ``exc_type`` (RuntimeError for anything else)."""
    cls = getattr(builtins, exc_type, None) if isinstance(exc_type, str) else None
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = RuntimeError
    try:
        return cls(str(message))
    except Exception:  # a class whose constructor wants other arguments (UnicodeDecodeError...)
        return RuntimeError(f"{exc_type}: {message}")


def validate_function_names(functions: Mapping[str, str]) -> None:
    """Dotted names of identifiers; no name both a function and a namespace; no clash with FINAL."""
    names = set(functions)
    for name in names:
        parts = name.split(".")
        if not all(p.isidentifier() and not keyword.iskeyword(p) and not p.startswith("_") for p in parts):
            raise ValueError(f"function name {name!r} must be dotted identifiers not starting with '_'")
        for i in range(1, len(parts)):
            if ".".join(parts[:i]) in names:
                raise ValueError(f"{'.'.join(parts[:i])!r} cannot be both a function and hold {name!r}")
        if parts[0] in ("FINAL", "FINAL_VAR"):
            raise ValueError(f"{parts[0]} is provided by the sandbox itself")
        if len(parts) == 1 and functions[name].startswith(PROPERTY_MARK):
            raise ValueError(f"{name!r} cannot be a property: only names inside a namespace can")
