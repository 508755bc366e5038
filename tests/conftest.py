"""Shared fixtures: small repositories made on the spot."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_api import FakeAPI


def make_repo(root: Path, files: dict[str, str], *, git: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if git:
        env_args = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(root), *env_args, "commit", "-qm", "init"], check=True)
    return root


SMALL_REPO = {
    "README.md": "# shop\n\nA tiny shop service.\n",
    "shop/__init__.py": "",
    "shop/retry.py": (
        "import time\n"
        "\n"
        "MAX_RETRIES = 3\n"
        "\n"
        "\n"
        "def with_retries(fn, retries=MAX_RETRIES):\n"
        "    for attempt in range(retries):\n"
        "        try:\n"
        "            return fn()\n"
        "        except OSError:\n"
        "            time.sleep(2 ** attempt)\n"
        "    raise RuntimeError('gave up')\n"
    ),
    "shop/orders.py": (
        "from shop.retry import with_retries\n"
        "\n"
        "\n"
        "def place(order):\n"
        "    return with_retries(lambda: order.submit(), retries=5)\n"
    ),
    "docs/guide.md": "Retries are configured in shop/retry.py.\n",
}


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
