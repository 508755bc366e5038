"""LSP base-protocol framing (`Content-Length` headers, then a JSON body) read from an untrusted stream.

This replaces pygls 2.1.1's reader (`pygls.io_.run_async`), which trusts its input: a huge
`Content-Length` ends the server with exit code 0 (the reader's error is taken for the end of
input), a header line without its CRLF misaligns every later frame (the server goes deaf), and a
line without a newline is buffered whole. Here every header and body is bounded, and reading
finds its way back to the next message after garbage:

- a header block is `Name: value` lines, each ending in CRLF, then an empty line, at most
  MAX_HEADER_BYTES, with a decimal `Content-Length`;
- a body is at most MAX_FRAME_BYTES; a longer one is refused and its bytes skipped as garbage;
- after garbage, reading resumes at the next `Content-Length:` or `Content-Type:` header;
- a body that holds a whole `Content-Length: N` CRLF line cannot be JSON (JSON escapes a CR
  inside strings and has no such token outside them): its length overshot into the next message,
  so that frame is dropped at once and reading resumes at the header, instead of swallowing the
  messages that follow until enough bytes have come.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Protocol

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024 * 1024
"""The largest body accepted. Far above any message reporlm uses (open buffers are capped well
below it); JSON this size already costs hundreds of MB as Python objects."""
MAX_HEADER_BYTES = 8 * 1024
CHUNK_BYTES = 64 * 1024

_HEADER_END = b"\r\n\r\n"
# (Nothing here can backtrack much: the value's spaces are stripped in Python, not by the pattern,
# which took 0.7 s on one 8 KB line of spaces as `[ \t]*(.*?)[ \t]*`.)
_HEADER_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:(.*)")
_HEADER_START = re.compile(rb"content-(?:length|type)[ \t]*:", re.IGNORECASE)
_LENGTH_LINE = re.compile(rb"content-length[ \t]*:[ \t]*\d+[ \t]*\r\n", re.IGNORECASE)
_KEEP_FOR_A_SPLIT_HEADER = len(b"content-length:") - 1
_MAX_LENGTH_DIGITS = 20
_RESCAN_BYTES = 256
"""How far back each search for a header inside a body starts, for one split across reads."""
_REPORT_EVERY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Frame:
    body: bytes


@dataclass(frozen=True)
class Garbage:
    """Bytes skipped, and why: nothing in them could be read as a message."""

    size: int
    reason: str


class FrameParser:
    """Turns bytes, fed in any pieces, into frames and reports of skipped garbage."""

    def __init__(self, max_frame: int = MAX_FRAME_BYTES, max_header: int = MAX_HEADER_BYTES) -> None:
        self.max_frame = max_frame
        self.max_header = max_header
        self._buffer = bytearray()
        self._body_length: int | None = None
        """Set while a body is being read."""
        self._scanned = 0
        """How much of the body read so far was searched for a next header."""
        self._seeking = False
        """After garbage: look for the next header instead of expecting one here."""
        self._skipped = 0
        self._skip_reason = ""

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame | Garbage]:
        self._buffer += data
        out: list[Frame | Garbage] = []
        while self._step(out):
            pass
        return out

    def finish(self) -> list[Garbage]:
        """The end of input: whatever is left was not a whole message."""
        out: list[Frame | Garbage] = []
        if self._body_length is not None:
            self._skip(len(self._buffer), f"the input ended inside a body of {self._body_length} bytes")
        elif self._buffer and not self._seeking:
            self._skip(len(self._buffer), "the input ended inside a header")
        else:
            self._skip(len(self._buffer), "")
        self._buffer.clear()
        self._body_length, self._seeking = None, False
        self._flush_skipped(out)
        return [g for g in out if isinstance(g, Garbage)]

    # -- states ----------------------------------------------------------------------------------

    def _step(self, out: list[Frame | Garbage]) -> bool:
        """One transition; False when more input is needed."""
        if self._body_length is not None:
            return self._read_body(out)
        if self._seeking:
            return self._seek(out)
        return self._read_header(out)

    def _read_header(self, out: list[Frame | Garbage]) -> bool:
        buffer = self._buffer
        blank = 0
        while blank < len(buffer) and buffer[blank] in b"\r\n":
            blank += 1  # stray line ends between messages are harmless
        if blank:
            del buffer[:blank]
        if not buffer:
            return False
        end = buffer.find(_HEADER_END, 0, self.max_header + len(_HEADER_END))
        if end < 0:
            if len(buffer) < self.max_header:
                return False
            return self._garbage(1, f"no end of header within {self.max_header} bytes")
        block = bytes(buffer[:end])
        glued = next(
            (m.start() for m in _HEADER_START.finditer(block, 1) if block[m.start() - 1] != ord("\n")), 0
        )
        if glued:  # a header inside a line: what came before it is garbage
            return self._garbage(glued, f"bytes before a header: {_show(block[:glued])}")
        length, problem = _content_length(block)
        if length is None:  # the whole block goes; what follows it is looked through for a header
            return self._garbage(end + len(_HEADER_END), problem)
        self._flush_skipped(out)
        del buffer[: end + len(_HEADER_END)]
        if length > self.max_frame:
            # Its body is skipped as garbage: reading resumes at the next header found.
            self._skip(0, f"a frame of {length} bytes, over the limit of {self.max_frame}")
            self._seeking = True
            return True
        self._body_length, self._scanned = length, 0
        return True

    def _read_body(self, out: list[Frame | Garbage]) -> bool:
        length = self._body_length
        assert length is not None
        buffer = self._buffer
        available = min(len(buffer), length)
        start = max(0, self._scanned - _RESCAN_BYTES)
        overshoot = _search(_LENGTH_LINE, buffer, start, available)
        if overshoot >= 0:
            self._body_length = None
            return self._garbage(
                overshoot, f"a body shorter than its Content-Length ({length}): a header inside it"
            )
        self._scanned = available
        if len(buffer) < length:
            return False
        out.append(Frame(bytes(buffer[:length])))
        del buffer[:length]
        self._body_length = None
        return True

    def _seek(self, out: list[Frame | Garbage]) -> bool:
        buffer = self._buffer
        found = _search(_HEADER_START, buffer, 0, len(buffer))
        if found < 0:
            keep = min(len(buffer), _KEEP_FOR_A_SPLIT_HEADER)
            self._skip(len(buffer) - keep, "")
            del buffer[: len(buffer) - keep]
            if self._skipped >= _REPORT_EVERY_BYTES:  # a long flood of garbage is reported as it goes
                self._flush_skipped(out)
            return False
        self._skip(found, "")
        del buffer[:found]
        self._seeking = False
        return True

    def _garbage(self, size: int, reason: str) -> bool:
        """Drop `size` bytes as garbage, then look for the next header."""
        self._skip(size, reason)
        del self._buffer[:size]
        self._seeking = True
        return True

    def _skip(self, size: int, reason: str) -> None:
        if reason and not self._skip_reason:
            self._skip_reason = reason
        self._skipped += size

    def _flush_skipped(self, out: list[Frame | Garbage]) -> None:
        """One report per run of garbage, given when the next message is found (or input ends)."""
        if self._skipped or self._skip_reason:
            out.append(Garbage(self._skipped, self._skip_reason or "bytes outside any message"))
        self._skipped, self._skip_reason = 0, ""


def _search(pattern: re.Pattern[bytes], buffer: bytearray, start: int, end: int) -> int:
    """Where `pattern` (which starts with "content-", in any case) first matches in
    `buffer[start:end]`, or -1. A plain search of the lowered bytes finds the candidates: a
    case-insensitive pattern search costs ten times as much, and garbage can be megabytes."""
    lowered = buffer[start:end].lower()
    at = lowered.find(b"content-")
    while at >= 0:
        if pattern.match(buffer, start + at, end):
            return start + at
        at = lowered.find(b"content-", at + 1)
    return -1


def _content_length(block: bytes) -> tuple[int | None, str]:
    """The Content-Length of a header block, or None and what is wrong with the block."""
    length: int | None = None
    for line in block.split(b"\r\n"):
        match = _HEADER_LINE.fullmatch(line)
        if match is None:
            return None, f"a header line that is not `Name: value`: {_show(line)}"
        name, value = match.group(1), match.group(2).strip(b" \t")
        if name.lower() == b"content-length":
            if not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS or length is not None:
                return None, f"a bad Content-Length: {_show(value)}"
            length = int(value)
    if length is None:
        return None, "a header without Content-Length"
    return length, ""


def _show(raw: bytes, limit: int = 60) -> str:
    text = raw[:limit].decode("ascii", "backslashreplace")
    return repr(text + ("…" if len(raw) > limit else ""))


# -- reading a stream ----------------------------------------------------------------------------


class ByteSource(Protocol):
    async def read(self) -> bytes:
        """The next bytes; b"" at the end of input."""
        ...


class StdinSource:
    """Reads a pipe in a thread of its own, so a busy pool never delays input; `on_data` and
    `on_end` hear of each piece read and of the end of input from that thread."""

    def __init__(
        self,
        stdin: BinaryIO,
        on_data: Callable[[], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self._fd = stdin.fileno()
        self._on_data = on_data
        self._on_end = on_end
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reporlm-stdin")

    async def read(self) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._read)

    def _read(self) -> bytes:
        try:
            data = os.read(self._fd, CHUNK_BYTES)
        except OSError as exc:
            log.warning("reading the client's input failed: %s", exc)
            data = b""
        callback = self._on_data if data else self._on_end
        if callback is not None:
            callback()
        return data


class StreamSource:
    """An asyncio stream (a TCP connection)."""

    def __init__(self, reader: asyncio.StreamReader, on_end: Callable[[], None] | None = None) -> None:
        self._reader = reader
        self._on_end = on_end

    async def read(self) -> bytes:
        try:
            data = await self._reader.read(CHUNK_BYTES)
        except OSError as exc:
            log.warning("reading from the client failed: %s", exc)
            data = b""
        if not data and self._on_end is not None:
            self._on_end()
        return data


async def read_messages(
    source: ByteSource, receive: Callable[[bytes], None], stop: threading.Event | None = None
) -> None:
    """Hand each frame's body to `receive`, in order, until the end of input (or `stop`)."""
    parser = FrameParser()
    while stop is None or not stop.is_set():
        data = await source.read()
        items: list[Frame | Garbage] = parser.feed(data) if data else list(parser.finish())
        for item in items:
            if isinstance(item, Frame):
                try:
                    receive(item.body)
                except Exception:  # a bug in handling one message must not stop the reader
                    log.exception("handling a message failed")
                await asyncio.sleep(0)  # a chunk full of small messages must not hog the loop
            else:
                log.warning("skipped %d bytes of input that are not a message: %s", item.size, item.reason)
        if not data:
            return
