"""`reporlm index`: build or refresh a repository's persistent symbol index, then say what it holds.

A CI job runs it to warm the cache before `reporlm ask`; a person runs it to see what the index
skipped and why. Progress goes to stderr (a spinner on a terminal, otherwise a line every few
seconds), the status to stdout: text, or one JSON object with `--json`.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.text import Text

from reporlm.config import ConfigError
from reporlm.terminal import json_text, printable

if TYPE_CHECKING:
    from reporlm.workspace import Repo
    from reporlm.workspace.index import IndexStatus

EXIT_READY, EXIT_FAILED = 0, 1
EXAMPLES_PER_REASON = 3
PROGRESS_EVERY = 5.0
"""Seconds between progress lines when stderr is not a terminal (a CI log)."""
INDEX_LOGGER = "reporlm.workspace.index"
"""The index reports its work (files to parse, files parsed, files skipped) in its log."""
_POLL_SECONDS = 0.05


def run_index(repo_path: str, *, as_json: bool, err: Console | None = None) -> int:
    """Index the repository at `repo_path`, print its status; the exit code (usage errors raise)."""
    from reporlm.workspace import Repo, WorkspaceError

    root = Path(repo_path).expanduser()
    if not root.is_dir():
        raise ConfigError(f"--repo {repo_path}: no such folder")
    try:
        repo = Repo(root)
    except WorkspaceError as exc:
        raise ConfigError(str(exc)) from None
    progress = IndexProgress(err or Console(stderr=True), repo.root)
    with progress:
        repo.start_indexing()
        status = _settled(repo)
    repo.close()  # not in a finally: on Ctrl-C, waiting for the indexing thread would hang
    if status.state != "ready":
        why = progress.failure or "see the log above"
        print(printable(f"reporlm: indexing {repo.root} failed: {why}"), file=sys.stderr)
        return EXIT_FAILED
    record = index_record(status, repo.root)
    # File names and skip reasons come from the repository: no control sequence reaches the terminal.
    print(json_text(record) if as_json else printable(render_index(record)))
    return EXIT_READY


def _settled(repo: Repo) -> IndexStatus:
    """The index status once the background sync is over (asking waits while it holds the index)."""
    while True:
        status = repo.index_status()
        if status.state not in ("not started", "indexing"):
            return status
        time.sleep(_POLL_SECONDS)


# -- progress --------------------------------------------------------------------------------------


class IndexProgress(logging.Handler):
    """While active, shows the index's latest log line on stderr as progress.

    The index logger stops propagating meanwhile, so its INFO lines do not also reach the
    command's log; records at the level the user asked for (`--log-level`) are passed on.
    An error logged with its exception is kept as `failure`, the reason indexing failed.
    """

    def __init__(self, console: Console, root: Path, *, every: float = PROGRESS_EVERY) -> None:
        super().__init__(logging.INFO)
        self.console = console
        self.root = root
        self.every = every
        self.failure: str | None = None
        self.latest = ""
        self._started = self._last_line = time.monotonic()
        self._status: Status | None = None
        self._saved: tuple[int, bool] = (logging.NOTSET, True)

    def __rich__(self) -> Text:
        """The spinner's text, rendered at each refresh so the seconds keep counting."""
        elapsed = time.monotonic() - self._started
        text = Text(printable(f"indexing {self.root} · {elapsed:.0f}s"))
        if self.latest:
            text.append(f" · {self.latest}", style="dim")
        text.truncate(max(20, self.console.width - 4), overflow="ellipsis")
        return text

    def __enter__(self) -> IndexProgress:
        logger = logging.getLogger(INDEX_LOGGER)
        self._saved = (logger.level, logger.propagate)
        logger.setLevel(min(logging.INFO, logger.getEffectiveLevel()))
        logger.propagate = False
        logger.addHandler(self)
        self._started = self._last_line = time.monotonic()
        if self.console.is_terminal:
            self._status = self.console.status(self)
            self._status.start()
        else:
            self.console.print(
                f"reporlm: indexing {escape(printable(str(self.root)))}", highlight=False, soft_wrap=True
            )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        logger = logging.getLogger(INDEX_LOGGER)
        logger.removeHandler(self)
        logger.setLevel(self._saved[0])
        logger.propagate = self._saved[1]
        if self._status is not None:
            self._status.stop()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.latest = printable(" ".join(record.getMessage().split()))
            if record.exc_info and record.exc_info[1] is not None and record.levelno >= logging.ERROR:
                error = record.exc_info[1]
                self.failure = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            now = time.monotonic()
            if self._status is None and now - self._last_line >= self.every:
                self._last_line = now
                self.console.print(
                    f"reporlm: indexing, {now - self._started:.0f}s: {escape(self.latest)}",
                    highlight=False,
                    soft_wrap=True,
                )
            root = logging.getLogger()
            if record.levelno >= root.getEffectiveLevel():
                root.handle(record)
        except Exception:
            self.handleError(record)


# -- the status ------------------------------------------------------------------------------------


def index_record(status: IndexStatus, root: Path) -> dict[str, Any]:
    """An `IndexStatus` as `reporlm index --json` prints it: skipped files grouped by reason."""
    return {
        "repo": str(root),
        "state": status.state,
        "files": status.files,
        "indexed": status.indexed,
        "skipped": {"count": len(status.skipped), "reasons": skipped_by_reason(status.skipped)},
        "seconds": status.seconds,
        "location": status.location,
        "languages": list(status.languages),
    }


def skipped_by_reason(skipped: dict[str, str], examples: int = EXAMPLES_PER_REASON) -> list[dict[str, Any]]:
    """Skipped files (path -> reason) as groups by kind of reason, most files first, each with a
    few example paths and their full reason ("skipped: too large (3.1 MB; ...)")."""
    groups: dict[str, list[str]] = defaultdict(list)
    for path in sorted(skipped):
        groups[reason_kind(skipped[path])].append(path)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        {
            "reason": kind,
            "count": len(paths),
            "examples": [{"path": p, "reason": skipped[p]} for p in paths[:examples]],
        }
        for kind, paths in ordered
    ]


def reason_kind(reason: str) -> str:
    """A skip reason without its details: "skipped: too large (3.1 MB; ...)" -> "too large"."""
    return re.sub(r"\s*\(.*\)\s*$", "", reason.removeprefix("skipped: ")).strip() or reason


def render_index(record: dict[str, Any]) -> str:
    skipped = record["skipped"]
    lines = [
        f"Symbol index of {record['repo']}: {record['state']}",
        f"files:     {record['files']} in supported languages, {record['indexed']} indexed, "
        f"{skipped['count']} skipped",
    ]
    for n, group in enumerate(skipped["reasons"]):
        shown = ", ".join(_example(e) for e in group["examples"])
        more = group["count"] - len(group["examples"])
        label = "skipped:" if n == 0 else ""
        lines.append(
            f"{label:<10} {group['reason']}: {group['count']} ({shown}{f', and {more} more' if more else ''})"
        )
    lines += [
        f"time:      {record['seconds']:.2f} s",
        f"index:     {record['location']}",
        f"languages: {', '.join(record['languages'])}",
    ]
    return "\n".join(lines)


def _example(example: dict[str, str]) -> str:
    detail = re.search(r"\((.*)\)\s*$", example["reason"])
    return f"{example['path']} [{detail.group(1)}]" if detail else example["path"]
