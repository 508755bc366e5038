"""Keeping the trace folder from growing forever: old traces go, then the oldest past a size cap.

A run applies the policy to its trace's folder when it starts that trace (`Session.ask`). Only
files named the way reporlm names its traces (`20261126-141731-1a2b3c4d.jsonl`) are ever removed:
never anything else in the folder, never a symbolic link (nor what it points to), never the trace
being started, and never a trace written to in the last hour, which another run (in this process
or another one) may still be writing.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)

TRACE_NAME = re.compile(r"\d{8}-\d{6}-[0-9a-f]{8}\.jsonl")
"""Our traces' names: local start time, then 8 random hex digits (see `lsp.traces.new_trace_file`)."""
LIVE_SECONDS = 3600.0
"""A trace modified more recently than this may belong to a run still going: it is kept."""
_DAY = 86_400.0
_MB = 1_000_000


class _Trace(NamedTuple):
    path: str
    mtime: float
    size: int


@dataclass(frozen=True)
class TraceRetention:
    max_age_days: float = 14.0
    """Traces last modified longer ago than this are removed; 0: no age limit."""
    max_total_mb: float = 200.0
    """While the traces add up to more than this (in MB), the oldest are removed; 0: no size cap."""

    def prune(self, folder: Path, *, keep: Path | None = None, now: float | None = None) -> list[Path]:
        """Remove the traces in `folder` this policy no longer keeps; returns what was removed.

        `keep` (the trace being started) is never removed. Files that vanish meanwhile, or cannot
        be removed, are skipped: a clean-up never stops a run.
        """
        now = time.time() if now is None else now
        traces = sorted(_our_traces(folder), key=lambda t: t.mtime)
        total = sum(t.size for t in traces)
        oldest_kept = now - self.max_age_days * _DAY if self.max_age_days > 0 else None
        cap = self.max_total_mb * _MB if self.max_total_mb > 0 else None
        kept_name = keep.name if keep is not None else None
        removed: list[Path] = []
        freed = 0
        for trace in traces:  # oldest first
            if os.path.basename(trace.path) == kept_name or now - trace.mtime < LIVE_SECONDS:
                continue
            if oldest_kept is not None and trace.mtime < oldest_kept:
                why = f"older than {self.max_age_days:g} days"
            elif cap is not None and total > cap:
                why = f"the traces exceed {self.max_total_mb:g} MB"
            else:
                continue
            try:
                os.unlink(
                    trace.path
                )  # removes the file itself; a link put in its place would not be followed
            except FileNotFoundError:
                total -= trace.size  # another run removed it first
                continue
            except OSError as exc:
                log.warning("cannot remove the old trace %s: %s", trace.path, exc.strerror or exc)
                continue
            total -= trace.size
            freed += trace.size
            removed.append(Path(trace.path))
            log.debug("removed trace %s (%s)", trace.path, why)
        if removed:
            log.info(
                "removed %d old trace file(s), %.1f MB, from %s (keeping %g days, at most %g MB)",
                len(removed),
                freed / _MB,
                folder,
                self.max_age_days,
                self.max_total_mb,
            )
        return removed


def _our_traces(folder: Path) -> list[_Trace]:
    """Regular files in `folder` (not below it) named like our traces; links are left out."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("cannot list the trace folder %s: %s", folder, exc.strerror or exc)
        return []
    out = []
    for entry in entries:
        if not TRACE_NAME.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            out.append(_Trace(entry.path, info.st_mtime, info.st_size))
    return out
