"""The repository as an environment: files, reading, search and overviews (no models here).

`Repo` and friends are imported on first use, so that a process needing one part (the index's
parse workers) does not pay for the rest (git, the repository map).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import WorkspaceError

if TYPE_CHECKING:
    from .repo import Repo, RepoSummary
    from .search import Hit

__all__ = ["Hit", "Repo", "RepoSummary", "WorkspaceError"]


def __getattr__(name: str) -> Any:
    if name in ("Repo", "RepoSummary"):
        from . import repo

        return getattr(repo, name)
    if name == "Hit":
        from .search import Hit

        return Hit
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
