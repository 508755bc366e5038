"""Repositories made on the spot for tests: a module of its own rather than conftest, because
several test folders have a conftest.py and `from conftest import ...` finds whichever was
imported first."""

from __future__ import annotations

import subprocess
from pathlib import Path


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
