"""Where the symbol index of a repository is kept: the user's cache folder, never the repository."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from reporlm.cache_dir import CACHE_DIR_ENV, cache_root

__all__ = ["CACHE_DIR_ENV", "cache_root", "index_path"]


def index_path(root: Path, cache_dir: Path | None = None) -> Path:
    """The index file of the repository at `root` (resolved): one folder per repository path."""
    base = cache_dir if cache_dir is not None else cache_root()
    digest = hashlib.sha1(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", root.name)[:40] or "root"
    return base / "index" / f"{slug}-{digest}" / "symbols.sqlite3"
