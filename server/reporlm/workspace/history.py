"""`repo.git`: history of the repository through GitPython (log, blame, diff, show, head, status).

Paths in and out are relative to the `Repo` root, which may be a folder inside the work tree.
Revisions and paths come from model-written code: they are passed after `--end-of-options` or
`--`, so none can be read as an option (`--output=...` would write a file). External diff and
textconv programs from the repository's config are switched off.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import WorkspaceError

log = logging.getLogger(__name__)

MAX_DIFF_CHARS = 200_000
MAX_LOG = 500
MAX_DIRTY = 200
_UNIT = "\x1f"  # field separator in log formats
_SAFE_OPTIONS = {"c": ["safe.directory=*", "core.fsmonitor=false", "core.pager=cat"]}


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    date: str  # ISO 8601 with offset
    subject: str

    def __str__(self) -> str:
        return f"{self.sha[:10]} {self.date[:10]} {self.author}: {self.subject}"


@dataclass(frozen=True)
class BlameLine:
    line: int
    sha: str
    author: str
    date: str
    text: str

    def __str__(self) -> str:
        return f"{self.line:>5} {self.sha[:10]} {self.date[:10]} {self.author}: {self.text}"


@dataclass(frozen=True)
class Change:
    path: str
    status: str  # modified, added, deleted, renamed, untracked, conflicted, ...

    def __str__(self) -> str:
        return f"{self.status}: {self.path}"


@dataclass(frozen=True)
class Head:
    sha: str | None  # None before the first commit
    branch: str | None  # None when HEAD is detached
    detached: bool
    shallow: bool
    subject: str
    date: str
    dirty: list[str]  # changed or untracked files, repo-relative (at most 200)

    def __str__(self) -> str:
        where = f"branch {self.branch}" if self.branch else "detached HEAD"
        sha = self.sha[:10] if self.sha else "no commits yet"
        extra = " (shallow clone)" if self.shallow else ""
        dirty = f"; {len(self.dirty)} changed files" if self.dirty else "; clean"
        return f"{where} at {sha} {self.date[:10]} {self.subject}{extra}{dirty}"


_STATUS = {
    "M": "modified",
    "A": "added",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "type changed",
    "U": "conflicted",
    "?": "untracked",
}


class NotAGitRepository:
    """`repo.git` of a folder that is not in a git work tree: every call says so."""

    def __init__(self, root: Path, reason: str) -> None:
        self._message = f"{root} is not a git repository ({reason}); repo.git is unavailable, the rest works"

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        message = self._message

        def unavailable(*args: Any, **kwargs: Any) -> Any:
            raise WorkspaceError(message)

        return unavailable

    @property
    def head(self) -> Head:
        raise WorkspaceError(self._message)


class GitHistory:
    """Read-only history of the work tree that holds `root`."""

    def __init__(self, repo: Any, root: Path) -> None:
        self._repo = repo
        self._lock = threading.Lock()  # GitPython's persistent cat-file processes are not thread-safe
        work_tree = Path(repo.working_tree_dir).resolve()
        prefix = os.path.relpath(root, work_tree).replace(os.sep, "/")
        self._prefix = "" if prefix == "." else prefix + "/"
        self._root = root

    @classmethod
    def open(cls, root: Path) -> GitHistory | NotAGitRepository:
        try:
            import git
        except ImportError as exc:  # GitPython needs the git executable too
            return NotAGitRepository(root, f"GitPython unavailable: {exc}")
        try:
            repo = git.Repo(root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            return NotAGitRepository(root, "no .git folder here or above")
        except Exception as exc:
            return NotAGitRepository(root, f"{type(exc).__name__}: {exc}")
        if repo.bare or repo.working_tree_dir is None:
            return NotAGitRepository(root, "a bare repository has no work tree")
        repo.git.set_persistent_git_options(**_SAFE_OPTIONS)
        # GIT_DIR and friends in our environment must not redirect git to another repository.
        repo.git.update_environment(
            **{name: None for name in os.environ if name.startswith("GIT_")},
            GIT_TERMINAL_PROMPT="0",
            GIT_OPTIONAL_LOCKS="0",
            LC_ALL="C",
        )
        return cls(repo, root)

    # ----- the model's API -------------------------------------------------------------------

    @property
    def head(self) -> Head:
        """(a value, not a call) The checked-out commit: .sha, .branch (None if detached), .detached,
        .shallow, .subject, .date, .dirty (changed files)."""
        with self._lock:
            sha = (
                self._run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", ok_codes=(0, 1)).strip()
                or None
            )
            branch = self._run("symbolic-ref", "--quiet", "--short", "HEAD", ok_codes=(0, 1)).strip() or None
            shallow = self._run("rev-parse", "--is-shallow-repository").strip() == "true"
            subject = date = ""
            if sha:
                out = self._run("log", "-1", f"--format=%s{_UNIT}%aI", sha)
                subject, _, date = out.strip().partition(_UNIT)
        dirty = [c.path for c in self.status()][:MAX_DIRTY]
        return Head(sha, branch, branch is None and sha is not None, shallow, subject, date, dirty)

    def status(self) -> list[Change]:
        """Uncommitted changes of the work tree, as Changes (.path, .status: "modified", "untracked", ...)."""
        with self._lock:
            out = self._run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", self._spec(None))
        changes: list[Change] = []
        entries = iter(out.split("\0"))
        for entry in entries:
            if len(entry) < 4:
                continue
            code, path = entry[:2], entry[3:]
            if "R" in code or "C" in code:
                next(entries, None)  # the old name follows a rename
            letter = "?" if code == "??" else ("U" if "U" in code else (code[0].strip() or code[1]))
            rel = self._relative(path)
            if rel is not None:
                changes.append(Change(rel, _STATUS.get(letter, "changed")))
        return changes

    def log(self, path: str | None = None, n: int = 20) -> list[Commit]:
        """The last `n` commits, newest first, of `path` if given (following renames).

        Commits have .sha, .author, .date, .subject."""
        n = _positive(n, "n", MAX_LOG)
        args = ["log", f"-n{n}", f"--format=%H{_UNIT}%an{_UNIT}%aI{_UNIT}%s", "--end-of-options", "HEAD"]
        if path is not None:
            args = [*args[:2], "--follow", *args[2:], "--", self._spec(path)]
        with self._lock:
            if self._run("rev-parse", "--verify", "--quiet", "HEAD", ok_codes=(0, 1)).strip() == "":
                return []
            out = self._run(*args)
        commits = []
        for line in out.splitlines():
            sha, author, date, subject = ([*line.split(_UNIT), "", "", ""])[:4]
            commits.append(Commit(sha, author, date, subject))
        return commits

    def blame(self, path: str, start: int | None = None, end: int | None = None) -> list[BlameLine]:
        """Who last changed each line of `path` (lines start..end), as BlameLines.

        A BlameLine has .line, .sha, .author, .date, .text."""
        spec = self._spec(path, magic=False)
        args = ["blame", "--porcelain", "--no-textconv"]
        if start is not None or end is not None:
            first = _positive(start if start is not None else 1, "start")
            last = _positive(end, "end") if end is not None else None
            args.append(f"-L{first}," + (str(last) if last is not None else ""))
        with self._lock:
            # blame takes no --end-of-options (git 2.39); the revision here is always HEAD.
            out = self._run(*args, "HEAD", "--", spec)
        return _parse_porcelain_blame(out)

    def diff(self, base: str, head: str | None = None, path: str | None = None) -> str:
        """The unified diff from revision `base` to `head` (None: the work tree), of one path if given."""
        revs = [_rev(base)] + ([_rev(head)] if head is not None else [])
        args = ["diff", "--no-ext-diff", "--no-textconv", "--no-color", "-M", "--end-of-options", *revs]
        args += ["--", self._spec(path)]
        with self._lock:
            out = self._run(*args)
        if len(out) > MAX_DIFF_CHARS:
            cut = len(out) - MAX_DIFF_CHARS
            out = out[:MAX_DIFF_CHARS] + f"\n[... diff cut: {cut} more characters; pass path= to narrow it]\n"
        return out

    def show(self, rev: str, path: str | None = None) -> str:
        """The text of `path` at revision `rev`; without a path, the commit's message and changed files."""
        rev = _rev(rev)
        with self._lock:
            if path is None:
                return self._run(
                    "show", "--no-ext-diff", "--no-textconv", "--stat", "--no-color", "--end-of-options", rev
                )
            spec = self._spec(path, magic=False)
            return self._run("cat-file", "-p", "--end-of-options", f"{rev}:{spec}")

    # ----- helpers ---------------------------------------------------------------------------

    def _spec(self, path: str | None, *, magic: bool = True) -> str:
        """A work-tree-relative, literal pathspec for a Repo-relative path (None: the whole view).

        Without `magic`, a plain path from the top of the work tree (for blame and rev:path).
        """
        if path is None:
            # ":(top)" alone is the whole work tree; a literal "." would match a file named ".".
            return ":(top,literal)" + self._prefix.rstrip("/") if self._prefix else ":(top)"
        if not isinstance(path, str):
            raise WorkspaceError(f"a path must be a string, not {type(path).__name__}")
        clean = os.path.normpath(path.strip()).replace(os.sep, "/")
        if clean.startswith("../") or clean == ".." or os.path.isabs(clean):
            raise WorkspaceError(f"path is outside the repository: {path}")
        clean = "" if clean == "." else clean
        full = (self._prefix + clean).rstrip("/") or "."
        return ":(top,literal)" + full if magic else full

    def _relative(self, path: str) -> str | None:
        if not self._prefix:
            return path
        return path[len(self._prefix) :] if path.startswith(self._prefix) else None

    def _run(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> str:
        import git

        command, *rest = args
        try:
            # Called by name, GitPython adds the persistent options (-c safe.directory=* ...).
            return getattr(self._repo.git, command.replace("-", "_"))(*rest, strip_newline_in_stdout=False)
        except git.GitCommandError as exc:
            if exc.status in ok_codes:
                return ""
            message = _explain(exc)
            unknown = ("unknown revision", "invalid object name", "bad revision", "bad object")
            if any(text in message for text in unknown) and self._is_shallow():
                message += " (this is a shallow clone: older history is not available)"
            raise WorkspaceError(message) from None

    def _is_shallow(self) -> bool:
        return (Path(self._repo.common_dir) / "shallow").exists()


def _explain(exc: Any) -> str:
    message = (exc.stderr or "").strip().removeprefix("stderr:").strip().strip("'").strip()
    if "dubious ownership" in message:
        return (
            "git refuses this repository (dubious ownership: it belongs to another user). "
            "To allow it: git config --global --add safe.directory <path>"
        )
    return f"git: {message or 'the command failed'}"


def _rev(rev: object) -> str:
    if not isinstance(rev, str) or not rev.strip():
        raise WorkspaceError("a revision must be a non-empty string such as 'HEAD~1', a branch or a sha")
    rev = rev.strip()
    if rev.startswith("-") or any(ch in rev for ch in "\0\n"):
        raise WorkspaceError(f"not a revision: {rev!r}")
    return rev


def _positive(value: object, name: str, cap: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise WorkspaceError(f"{name} must be a positive int, not {value!r}")
    return min(value, cap) if cap else value


def _parse_porcelain_blame(out: str) -> list[BlameLine]:
    commits: dict[str, dict[str, str]] = {}
    lines: list[BlameLine] = []
    current: dict[str, str] = {}
    sha = ""
    final_line = 0
    for raw in out.split("\n"):
        if raw.startswith("\t"):
            info = commits.setdefault(sha, current)
            lines.append(BlameLine(final_line, sha, info.get("author", ""), info.get("date", ""), raw[1:]))
            continue
        parts = raw.split(" ")
        if len(parts) >= 3 and len(parts[0]) in (40, 64) and all(c in "0123456789abcdef" for c in parts[0]):
            sha, final_line = parts[0], int(parts[2])
            current = commits.get(sha, {})
            commits.setdefault(sha, current)
        elif raw.startswith("author "):
            current["author"] = raw[7:]
        elif raw.startswith("author-time "):
            current["time"] = raw[12:]
        elif raw.startswith("author-tz "):
            current["date"] = _iso(current.get("time", "0"), raw[10:])
    return lines


def _iso(epoch: str, tz: str) -> str:
    from datetime import datetime, timedelta, timezone

    try:
        sign = -1 if tz.startswith("-") else 1
        offset = timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
        return datetime.fromtimestamp(int(epoch), timezone(offset)).isoformat()
    except ValueError:
        return ""
