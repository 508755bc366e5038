"""Turning paths given by callers (the model, the editor) into repo-relative POSIX paths."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from .errors import WorkspaceError


def _outside(path: object) -> WorkspaceError:
    return WorkspaceError(f"path is outside the repository: {path}")


def _contains(folder: str, path: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def to_relative(root: Path, path: str | os.PathLike[str], *, given_root: Path | None = None) -> str:
    """Map `path` to a repo-relative POSIX path ("" for the root itself).

    Accepts `a/b.py`, `./a/b.py`, `file://` URIs and absolute paths inside the root. `root`
    must be resolved; `given_root` is the root as the caller spelled it (it may run through a
    symlink), so absolute paths in either spelling are accepted. Anything that leaves the
    root, lexically (`..`) or through a symlink, raises WorkspaceError.
    """
    try:
        raw = os.fspath(path)
    except TypeError:
        raise WorkspaceError(f"a path must be a string, not {type(path).__name__}") from None
    if not isinstance(raw, str):
        raise WorkspaceError(f"a path must be a string, not {type(raw).__name__}")
    text = raw.strip()
    if text.startswith("file://"):
        text = unquote(urlparse(text).path)
    if "\x00" in text:
        raise WorkspaceError(f"invalid path (contains a NUL byte): {raw!r}")

    if os.path.isabs(text):
        absolute = os.path.normpath(text)
        for base in (root, given_root):
            if base is not None and _contains(str(base), absolute):
                rel = os.path.relpath(absolute, base)
                break
        else:
            raise _outside(raw)
    else:
        rel = os.path.normpath(text or ".")
        if rel == ".." or rel.startswith(".." + os.sep):
            raise _outside(raw)
    if rel == ".":
        return ""

    # A symlink (the file itself or a folder on the way) may lead out of the tree.
    real = os.path.realpath(root / rel)
    if not _contains(str(root), real):
        raise _outside(raw)
    return Path(rel).as_posix()


def is_under(path: str, folder: str | None) -> bool:
    """Whether repo-relative `path` is `folder` or lies below it (`None`/"" is the root)."""
    if not folder:
        return True
    return path == folder or path.startswith(folder + "/")
