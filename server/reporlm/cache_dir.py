"""The user cache folder every part of reporlm keeps its files under (index, model weights, prefixes).

A module of its own so that `workspace` and `llm`, which must not import each other, share one rule.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

CACHE_DIR_ENV = "REPORLM_CACHE_DIR"


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """`$REPORLM_CACHE_DIR`, else the platform's user cache folder for reporlm."""
    override = (os.environ if env is None else env).get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs  # slow to import; only the first caller pays

    return Path(platformdirs.user_cache_dir("reporlm", appauthor=False))
