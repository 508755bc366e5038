"""Helpers for the workspace tests: run git, write files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_IDENTITY = [
    "-c",
    "user.name=Test",
    "-c",
    "user.email=test@example.com",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
]


def git(root: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    result = subprocess.run(
        ["git", *GIT_IDENTITY, "-C", str(root), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def write(root: Path, path: str, content: str | bytes) -> Path:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8", newline="")
    return target


APP_PY = """\
import os


def main():
    print("hello")
    return helper()


def helper():
    return 42
"""

UTIL_PY = """\
def helper_util(x):
    return x * 2
"""
