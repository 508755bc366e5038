"""Where the symbol index of a repository is kept: the user's cache folder, never the repository."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import platformdirs

CACHE_DIR_ENV = "REPORLM_CACHE_DIR"


def cache_root() -> Path:
    """`$REPORLM_CACHE_DIR`, else the platform's user cache folder for reporlm."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("reporlm", appauthor=False))


def index_path(root: Path, cache_dir: Path | None = None) -> Path:
    """The index file of the repository at `root` (resolved): one folder per repository path."""
    base = cache_dir if cache_dir is not None else cache_root()
    digest = hashlib.sha1(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", root.name)[:40] or "root"
    return base / "index" / f"{slug}-{digest}" / "symbols.sqlite3"
