"""Fixtures of the quality-harness tests: a tiny evaluation pack with its corpus in the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from evalpack_helpers import TinyPack, build_tiny_pack


@pytest.fixture
def tiny_pack(tmp_path: Path) -> TinyPack:
    return build_tiny_pack(tmp_path)
