"""The repository as an environment: files, reading, search and overviews (no models here)."""

from .errors import WorkspaceError
from .repo import Repo, RepoSummary
from .search import Hit

__all__ = ["Hit", "Repo", "RepoSummary", "WorkspaceError"]
