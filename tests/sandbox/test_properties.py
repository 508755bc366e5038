"""Read-only properties in the functions mapping: `repo.git.head` is read, not called."""

from __future__ import annotations

from typing import Any

import pytest

from reporlm.sandbox import Sandbox, SandboxLimits
from reporlm.sandbox.protocol import PROPERTY_MARK, validate_function_names

from .conftest import FUNCTIONS, run_ok

WITH_PROPERTY = {
    **FUNCTIONS,
    "repo.git.head": PROPERTY_MARK + "repo.git.head -> Head\n\nThe checked-out commit.",
}


class PropertyHost:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Any], dict[str, Any]]] = []

    async def __call__(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        self.calls.append((name, args, kwargs))
        if name == "repo.git.head":
            return {"sha": f"abc{len(self.calls)}", "branch": "main"}
        return None


async def start(host: PropertyHost) -> Sandbox:
    limits = SandboxLimits(wall_seconds=10, cpu_seconds=10, memory_mb=512)
    return await Sandbox.start(functions=WITH_PROPERTY, handler=host, limits=limits)


async def test_a_property_is_read_from_the_host_each_time() -> None:
    host = PropertyHost()
    sandbox = await start(host)
    try:
        output = await run_ok(sandbox, "print(repo.git.head['sha'])\nprint(repo.git.head['sha'])")
        assert output.splitlines() == ["abc1", "abc2"]
        assert host.calls == [("repo.git.head", [], {}), ("repo.git.head", [], {})]
    finally:
        await sandbox.close()


async def test_a_property_cannot_be_assigned_and_lists_with_its_namespace() -> None:
    host = PropertyHost()
    sandbox = await start(host)
    try:
        output = await run_ok(
            sandbox,
            "try:\n    repo.git.head = 1\nexcept AttributeError as exc:\n    print('refused', exc)\n"
            "print(repo.git)\nprint('The checked-out commit.' in type(repo.git).head.__doc__)",
        )
        lines = output.splitlines()
        assert lines[0] == "refused repo.git is read-only"
        assert lines[1] == "<repo.git: head, log>"
        assert lines[2] == "True"
        assert host.calls == []  # help and repr do not read the value
    finally:
        await sandbox.close()


def test_a_top_level_name_cannot_be_a_property() -> None:
    with pytest.raises(ValueError, match="only names inside a namespace"):
        validate_function_names({"head": PROPERTY_MARK + "head\n\nA value."})
    validate_function_names(WITH_PROPERTY)  # inside a namespace it is fine
