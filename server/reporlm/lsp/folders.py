"""Workspace folders: each one a repository of its own, with its index, settings and sessions.

An editor may open several folders at once (VS Code's multi-root workspaces), and add or remove
them later (`workspace/didChangeWorkspaceFolders`). The server keeps a `Folder` for each. Opening a
folder's repository (listing it, building its symbol index) waits until something needs it: the
first folder opens once `initialized` arrives, as a single folder always did; the others when a
command first names them. So start-up costs what one folder costs.

A command names its folder with `folder`: the folder's URI, or the URI of a document inside it
(the innermost folder holding it, when folders nest). With one folder open nothing needs naming.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from reporlm.engine.subcall_cache import SubcallCache
from reporlm.lsp.runs import RunCap, RunControl, SessionPool
from reporlm.lsp.wire import ConfigurationFailed

if TYPE_CHECKING:
    from reporlm.config import Settings
    from reporlm.workspace import Repo

NO_FOLDER = "no workspace folder: open a folder (the repository) first"


@dataclass(frozen=True)
class FolderIndex:
    """What a folder's status says of its listing and symbol index. Frozen: the indexing thread
    replaces it whole, so a status read from the loop never sees half an update."""

    state: str = "not opened"
    """not opened, loading, indexing, ready, failed, closed."""
    files: int | None = None
    """Files listed (any language)."""
    languages: dict[str, int] | None = None
    parsed: int = 0
    """While indexing: files parsed so far, of `to_parse` (0 until the index knows)."""
    to_parse: int = 0
    symbols: dict[str, Any] | None = None
    """Once settled: the symbol index's state, files, indexed, skipped, seconds."""
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state}
        if self.files is not None:
            out.update(files=self.files, languages=self.languages or {})
        if self.to_parse:
            out.update(parsed=self.parsed, to_parse=self.to_parse)
        if self.symbols is not None:
            out["symbols"] = self.symbols
        if self.error is not None:
            out["error"] = self.error
        return out


class Folder:
    """One workspace folder and what the server holds for it."""

    def __init__(self, uri: str, name: str, path: Path | None, cap: RunCap) -> None:
        self.uri = uri
        self.name = name
        self.given = Path(os.path.normpath(path)) if path is not None else None
        """The folder as the client spelled it (it may run through a symlink)."""
        self.root: Path | None = None
        """The resolved folder; None when it is not a folder on this machine."""
        self.workspace_error: str | None = None
        if path is None:
            self.workspace_error = f"not a local folder: {uri}"
        elif not path.is_dir():
            self.workspace_error = f"not a folder: {path}"
        else:
            self.root = path.resolve()
        self.settings: Settings | None = None
        self.config_error: str | None = None
        """Why this folder's settings could not be made (its own settings file, usually)."""
        self.repo: Repo | None = None
        self.index = FolderIndex()
        self.pool = SessionPool(cap)
        self.cache = SubcallCache()
        """Sub-call answers shared by the folder's sessions: an unchanged module costs nothing twice."""
        self.runs: dict[RunControl, asyncio.Task[Any] | None] = {}
        """Runs about this folder, with the task of the request that runs each."""
        self.updates: set[asyncio.Future[Any]] = set()
        """Re-indexing after saves: a run waits for these, so it sees what was just saved."""
        self.loading: asyncio.Future[None] | None = None
        self.closing: asyncio.Future[None] | None = None
        self.stop = threading.Event()
        """Set when the folder is closed: the threads that wait on its index give up."""

    def __repr__(self) -> str:
        return f"Folder({self.uri!r})"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.uri})"

    @property
    def closed(self) -> bool:
        return self.closing is not None

    def depth_holding(self, uri_or_path: str) -> int | None:
        """How deep this folder's root is when it holds a file, folder or document URI (or absolute
        path), else None."""
        best = None
        for path in _spellings(uri_or_path):
            for base in (self.root, self.given):
                if base is not None and _under(path, base):
                    best = max(best or 0, len(base.parts))
        return best

    def holds(self, uri_or_path: str) -> bool:
        return self.depth_holding(uri_or_path) is not None

    def add_update(self, task: asyncio.Future[Any]) -> None:
        self.updates.add(task)
        task.add_done_callback(self.updates.discard)


class Folders:
    """The workspace folders in the client's order; the first is the one a status describes."""

    def __init__(self) -> None:
        self._by_key: dict[str, Folder] = {}

    def __iter__(self) -> Iterator[Folder]:
        return iter(list(self._by_key.values()))

    def __len__(self) -> int:
        return len(self._by_key)

    @property
    def first(self) -> Folder | None:
        return next(iter(self._by_key.values()), None)

    def add(self, folder: Folder) -> bool:
        """Add `folder`; False when a folder at the same place is there already."""
        key = _key(folder.uri)
        if key in self._by_key:
            return False
        self._by_key[key] = folder
        return True

    def remove(self, uri: str) -> Folder | None:
        return self._by_key.pop(_key(uri), None)

    def holding(self, uri_or_path: str) -> Folder | None:
        """The innermost folder holding a file, folder or document URI (or absolute path)."""
        best: tuple[int, Folder] | None = None
        for folder in self:
            depth = folder.depth_holding(uri_or_path)
            if depth is not None and (best is None or depth > best[0]):
                best = (depth, folder)
        return best[1] if best else None

    def pick(self, folder: str | None, document: str | None = None) -> Folder:
        """The folder a command is about: the one named, else the only one, else the document's."""
        if not self._by_key:
            raise ConfigurationFailed(NO_FOLDER)
        if folder is not None:
            found = self.holding(folder)
            if found is None:
                raise JsonRpcInvalidParams(f"folder {folder} is not in a workspace folder; {self.listing()}")
            return found
        if len(self._by_key) == 1:
            return next(iter(self._by_key.values()))
        if document is not None:
            found = self.holding(document)
            if found is None:
                raise JsonRpcInvalidParams(f"{document} is not in a workspace folder; {self.listing()}")
            return found
        raise JsonRpcInvalidParams(
            "several workspace folders are open: say which one with `folder` (the URI of a folder, or "
            f"of a document inside one); {self.listing()}"
        )

    def listing(self) -> str:
        return "the workspace folders are: " + ", ".join(f.label for f in self)


def initial_folders(params: types.InitializeParams) -> list[tuple[str, str, Path | None]]:
    """(uri, name, path) of the folders `initialize` names: its workspace folders, else its root."""
    if params.workspace_folders:
        return [(f.uri, f.name, path_of(f.uri)) for f in params.workspace_folders]
    if params.root_uri:
        path = path_of(params.root_uri)
        return [(params.root_uri, path.name if path else params.root_uri, path)]
    if params.root_path:
        path = Path(params.root_path)
        return [(path.absolute().as_uri(), path.name, path)]
    return []


def path_of(uri: str) -> Path | None:
    """The local path of a `file:` URI; None for other schemes."""
    path = to_fs_path(uri)
    return Path(path) if path else None


def _local_path(uri_or_path: str) -> str | None:
    if uri_or_path.startswith("file:"):
        return to_fs_path(uri_or_path)
    return uri_or_path if os.path.isabs(uri_or_path) else None


def _spellings(uri_or_path: str) -> set[str]:
    """The path as written and as resolved: either may be how a folder was given."""
    path = _local_path(uri_or_path)
    if path is None:
        return set()
    return {os.path.normpath(path), os.path.realpath(path)}


def _key(uri: str) -> str:
    path = _local_path(uri)
    return os.path.normpath(path) if path else uri


def outside(path: Path, folders: tuple[Path, ...]) -> bool:
    """Whether `path`, resolved (symlinks followed), is in none of the resolved `folders`."""
    real = path.resolve()
    return not any(real == folder or folder in real.parents for folder in folders)


def _under(path: str, base: Path) -> bool:
    root = str(base)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
