"""Fixtures of the quality-harness tests: a tiny evaluation pack with its corpus in the cache."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from evalpack_helpers import TinyPack, build_tiny_pack


@pytest.fixture
def tiny_pack(tmp_path: Path) -> TinyPack:
    return build_tiny_pack(tmp_path)


def _optional(module: str) -> None:
    """Skip a test whose optional dependency is missing (a developer's `.[dev]`-only install),
    saying how to get it. `scripts/test`, which CI runs, installs everything and sets
    REPORLM_TEST_STRICT=1: there a missing one fails the test instead."""
    if os.environ.get("REPORLM_TEST_STRICT") == "1":
        importlib.import_module(module)
        return
    pytest.importorskip(module, reason=f"needs {module}: scripts/install --bench installs it")


@pytest.fixture
def bm25s() -> None:
    """The retrieval baseline's BM25 (also the direct baseline's file order)."""
    _optional("bm25s")


@pytest.fixture
def matplotlib() -> None:
    """The report's chart."""
    _optional("matplotlib")
