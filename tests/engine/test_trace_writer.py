"""The JSONL trace writer when the disk fails: the run and its answer go on, the error is kept."""

from __future__ import annotations

import errno
import io
import logging
from pathlib import Path

import pytest

from reporlm.engine.options import EngineOptions
from reporlm.engine.rlm import Models
from reporlm.engine.session import Session
from reporlm.engine.trace import JsonlWriter, read_trace
from reporlm.llm.scripted import ScriptedClient
from reporlm.workspace import Repo


class FullDisk(io.StringIO):
    """A file on a full disk: writes land in a buffer, flushing it fails, so closing fails too."""

    def __init__(self, fail_after: int = 0) -> None:
        super().__init__()
        self.flushes = 0
        self.fail_after = fail_after

    def flush(self) -> None:
        self.flushes += 1
        if self.flushes > self.fail_after:
            raise OSError(errno.ENOSPC, "No space left on device")

    def close(self) -> None:
        self.flush()


def test_a_full_disk_on_write_keeps_the_first_error_and_drops_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    disk = FullDisk(fail_after=2)
    writer = JsonlWriter(Path("trace.jsonl"), disk)
    with caplog.at_level(logging.WARNING):
        for n in range(5):
            writer({"seq": n})
        writer.close()
    assert writer.error is not None and writer.error.errno == errno.ENOSPC
    assert disk.getvalue().count("\n") == 3, "the events up to the failure were written"
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning == (
        "the trace trace.jsonl cannot be written ([Errno 28] No space left on device): "
        "the run goes on without it"
    )


def test_a_full_disk_on_close_is_kept_not_raised() -> None:
    writer = JsonlWriter(Path("trace.jsonl"), FullDisk(fail_after=1))
    writer({"seq": 1})
    assert writer.error is None
    writer.close()  # the last flush fails here
    assert writer.error is not None and writer.error.errno == errno.ENOSPC
    writer.close()


def test_a_folder_that_cannot_be_made_is_kept_not_raised(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    writer = JsonlWriter(tmp_path / "file" / "trace.jsonl")
    writer({"seq": 1})
    writer.close()
    assert isinstance(writer.error, OSError)


async def test_a_run_whose_trace_goes_to_a_full_disk_still_answers(small_repo: Path, tmp_path: Path) -> None:
    root = ScriptedClient(["FINAL(Retries are set at shop/retry.py:3.)"])
    models = Models(root=root, root_model="scripted", sub=root, sub_model="scripted")
    async with Session(Repo(small_repo), models, EngineOptions(require_evidence=False)) as session:
        result = await session.ask("Where are retries set?", trace_file=Path("/dev/full"))
        assert result.answer == "Retries are set at shop/retry.py:3." and not result.partial
        # The next run, with a working disk, traces as usual.
        root._replies.append("FINAL(Again shop/retry.py:3.)")
        good = tmp_path / "trace.jsonl"
        await session.ask("Again?", trace_file=good)
    assert read_trace(good)[-1]["kind"] == "run_end"
