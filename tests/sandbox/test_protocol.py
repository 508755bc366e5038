"""Unit tests of the pieces that need no worker: wire format, seccomp program, root plan."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

from reporlm.sandbox import isolation, protocol, seccomp


@dataclass(frozen=True)
class Symbol:
    name: str
    line: int
    parent: Any = None


def _as_tuple(name: str, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return (name, fields)


def test_records_and_awkward_dicts_round_trip() -> None:
    value = {
        "symbols": [Symbol("f", 1, Symbol("C", 0))],
        "$record": "not a record",
        1: "int key",
        "nested": ({"a"}, None, 1.5, float("nan")),
    }
    wire = protocol.loads(protocol.dumps({"type": "x", "v": protocol.encode_value(value)}))["v"]
    decoded = protocol.decode_value(wire, _as_tuple)
    assert decoded["symbols"] == [
        ("Symbol", {"name": "f", "line": 1, "parent": ("Symbol", {"name": "C", "line": 0, "parent": None})})
    ]
    assert decoded["$record"] == "not a record"
    assert decoded[1] == "int key"
    assert decoded["nested"] == [["a"], None, 1.5, "nan"]


def test_strict_encoding_refuses_unknown_types() -> None:
    with pytest.raises(TypeError):
        protocol.encode_value([object()], strict=True)
    assert protocol.encode_value(object()).startswith("<object object")


def test_malformed_messages_are_protocol_errors() -> None:
    for line in (b"not json\n", b"[1, 2]\n", b'{"no": "type"}\n'):
        with pytest.raises(protocol.ProtocolError):
            protocol.loads(line)
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_value({"$record": 3}, _as_tuple)


def test_exceptions_cross_as_builtin_classes_only() -> None:
    assert protocol.describe_exception(FileNotFoundError("gone")) == {
        "exc_type": "FileNotFoundError",
        "message": "gone",
    }
    assert protocol.describe_exception(KeyError("k")) == {"exc_type": "KeyError", "message": "k"}

    class Mine(ValueError):
        pass

    assert protocol.describe_exception(Mine("m"))["exc_type"] == "RuntimeError"
    assert type(protocol.rebuild_exception("LookupError", "x")) is LookupError
    assert type(protocol.rebuild_exception("SystemExit", "x")) is RuntimeError  # not an Exception
    assert type(protocol.rebuild_exception("__import__", "x")) is RuntimeError
    assert type(protocol.rebuild_exception("UnicodeDecodeError", "x")) is RuntimeError


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_seccomp_program_is_well_formed(machine: str) -> None:
    program = seccomp.build_filter(machine)
    for index, (code, jt, jf, _) in enumerate(program):
        if code in (0x15, 0x35):
            assert index + 1 + jt < len(program) and index + 1 + jf < len(program)
    assert program[-3][3] == 0x7FFF0000  # allow
    assert program[-2][3] == 0x00050000 | 1  # EPERM
    denied = {k for code, _, _, k in program if code == 0x15}
    for name in ("clone", "execve", "socket", "unshare", "ptrace", "mount", "bpf", "io_uring_setup"):
        assert seccomp._NUMBERS[machine][name] in denied


def test_the_new_root_holds_only_what_python_needs() -> None:
    plan = isolation.plan_root()
    targets = [item.target for item in plan if isinstance(item, isolation.Bind)]
    assert os.path.dirname(os.__file__) in targets or any(
        os.path.dirname(os.__file__).startswith(t + "/") for t in targets
    )
    home = os.path.expanduser("~")
    for target in targets:
        assert target not in ("/", "/etc", "/proc", "/home", home, "/tmp", "/var", "/run", "/sys")
        assert not target.startswith(("/etc", "/proc", "/sys", "/home", "/tmp", "/run"))
    assert all(not t.endswith("site-packages") for t in targets)
