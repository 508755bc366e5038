"""Server logs under a flood: a few lines of each kind, then a count; the client's copy is one line."""

from __future__ import annotations

import logging

from reporlm.lsp.logs import OneLine, Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Keep(logging.Handler):
    def __init__(self, throttle: Throttle) -> None:
        super().__init__()
        self.addFilter(throttle)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def logger_with(throttle: Throttle, name: str = "reporlm.test.flood") -> tuple[logging.Logger, Keep, Keep]:
    logger = logging.getLogger(name)
    logger.propagate = False
    first, second = Keep(throttle), Keep(throttle)
    logger.handlers[:] = [first, second]
    logger.setLevel(logging.INFO)
    return logger, first, second


def test_the_same_line_passes_a_few_times_per_window_then_is_counted() -> None:
    clock = Clock()
    throttle = Throttle(burst=3, window=10.0, clock=clock)
    log, stderr, client = logger_with(throttle)
    for i in range(1000):
        log.warning("malformed %s request: %s", "initialize", i)
    log.warning("another kind of line")
    assert stderr.lines == client.lines, "every handler sees the same lines"
    assert stderr.lines == [
        "malformed initialize request: 0",
        "malformed initialize request: 1",
        "malformed initialize request: 2",
        "another kind of line",
    ]
    clock.now = 10.5
    log.warning("malformed %s request: %s", "initialize", "later")
    assert stderr.lines[4:] == [
        "997 more like this in the last 10 s: malformed initialize request: 3",
        "malformed initialize request: later",
    ]


def test_what_is_still_held_is_counted_when_flushed() -> None:
    clock = Clock()
    throttle = Throttle(burst=1, window=10.0, clock=clock)
    log, stderr, _ = logger_with(throttle, "reporlm.test.flush")
    for _ in range(5):
        log.warning("skipped %d bytes", 7)
    clock.now = 2.0
    throttle.flush()  # the window is not over: nothing yet
    assert stderr.lines == ["skipped 7 bytes"]
    throttle.flush(everything=True)
    assert stderr.lines == ["skipped 7 bytes", "4 more like this in the last 2 s: skipped 7 bytes"]
    log.debug("debug lines are never held")


def test_the_clients_copy_is_one_short_line_without_the_traceback() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "reporlm.x", logging.ERROR, __file__, 1, "failed on %s", ("x" * 2000,), sys.exc_info()
        )
    text = OneLine("%(name)s: %(message)s", limit=300).format(record)
    assert "\n" not in text and len(text) <= 300 and text.startswith("reporlm.x: failed on xxx")
    assert "Traceback" not in text
