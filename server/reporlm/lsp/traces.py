"""Where the server writes each run's replayable JSONL trace (the result's `trace_file`)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path


def traces_dir() -> Path:
    """`$REPORLM_CACHE_DIR/traces`, else the user cache folder's `traces`."""
    base = os.environ.get("REPORLM_CACHE_DIR")
    if base:
        return Path(base) / "traces"
    from platformdirs import user_cache_path  # slow to import; the first run pays, not the start

    return user_cache_path("reporlm", appauthor=False) / "traces"


def new_trace_file() -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return traces_dir() / f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
