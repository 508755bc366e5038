"""Shared fixtures: small repositories made on the spot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_api import FakeAPI
from repo_builder import SMALL_REPO, make_repo


@pytest.fixture(autouse=True)
def _index_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Symbol indexes go to a temporary folder, never the user's cache."""
    monkeypatch.setenv("REPORLM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "reporlm-cache"))


@pytest.fixture
def small_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "shop-repo", SMALL_REPO)


@pytest.fixture
def fake_api() -> Iterator[FakeAPI]:
    """A local HTTP server speaking a provider's API; queue replies on it, read what it received."""
    api = FakeAPI()
    api.start()
    try:
        yield api
    finally:
        api.stop()
