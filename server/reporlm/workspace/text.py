"""Text helpers shared by listing, reading and searching: binary sniffing, decoding, lines."""

from __future__ import annotations

import codecs
from typing import BinaryIO

from .limits import check_deadline

SNIFF_BYTES = 8192

# Control bytes that do not occur in text (tab, newlines, form feed, escape are allowed).
_CONTROL = frozenset(range(0x00, 0x20)) - {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B} | {0x7F}
# Above these shares of control bytes or of invalid UTF-8, undecodable bytes count as binary.
# Random bytes give about 10% and 45%; legacy-encoded text has no controls and few accents.
_CONTROL_RATIO = 0.05
_INVALID_RATIO = 0.3


def looks_binary(sample: bytes, *, complete: bool = False) -> bool:
    """Whether a file whose first bytes are `sample` is binary.

    A NUL byte means binary (the rule git and grep use). Valid UTF-8 is text. Otherwise the
    file is binary only when control bytes or invalid sequences are frequent, so that
    legacy-encoded text (Latin-1 comments, say) stays searchable; `read` decodes it with
    replacement characters. `complete` says whether the sample is the whole file: if not,
    a multi-byte character cut at the end of the sample must not count as an error.
    """
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8") if complete else _decode_prefix(sample)
        return False
    except UnicodeDecodeError:
        pass
    decoded = sample.decode("utf-8", errors="replace")
    controls = sum(1 for byte in sample if byte in _CONTROL)
    return controls > _CONTROL_RATIO * len(sample) or decoded.count("\ufffd") > _INVALID_RATIO * len(decoded)


def not_text_reason(sample: bytes, *, complete: bool = False) -> str | None:
    """Why a file whose first bytes are `sample` is not read as text ("binary", "UTF-16 text",
    "UTF-32 text"), or None when it is text. Only UTF-8 (and legacy 8-bit text) is read."""
    if not looks_binary(sample, complete=complete):
        return None
    if sample.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32 text"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 text"
    # Without a byte-order mark: ASCII in UTF-16 puts a NUL in every other byte, and only there.
    head = sample[:4096]
    even, odd = head[0::2], head[1::2]
    if len(head) >= 16 and _mostly_nul(odd) != _mostly_nul(even) and min(even.count(0), odd.count(0)) == 0:
        return "UTF-16 text"
    return "binary"


def _mostly_nul(half: bytes) -> bool:
    return half.count(0) >= 0.4 * len(half)


def _decode_prefix(sample: bytes) -> str:
    return codecs.getincrementaldecoder("utf-8")("strict").decode(sample, final=False)


def decode(data: bytes) -> str:
    """File bytes as text: UTF-8 with replacement characters (and no BOM)."""
    text = data.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def split_lines(text: str) -> list[str]:
    """Lines with their endings kept, split on "\\n" only.

    `str.splitlines` also splits on form feeds, U+2028 and friends, which would make our
    line numbers disagree with editors, git and grep.
    """
    if not text:
        return []
    lines = text.split("\n")
    last = lines.pop()
    out = [line + "\n" for line in lines]
    if last:
        out.append(last)
    return out


STREAM_BLOCK_BYTES = 1024 * 1024


def stream_line_range(
    handle: BinaryIO, first: int, last: int | None, *, max_bytes: int, max_scan: int
) -> tuple[bytes, int]:
    """The bytes of lines `first`..`last` (1-based, inclusive; None: to the end) of an open
    file, read block by block, and the number of lines the file has up to where reading
    stopped. Raises ValueError when the range would be over `max_bytes`, OverflowError when
    reaching it would scan more than `max_scan` bytes.
    """
    out = bytearray()
    line = 1  # the number of the line the next byte belongs to
    scanned = 0
    tail = b""  # the last byte read: does the file end with a newline?
    while True:
        check_deadline(f"reading lines {first}..{last or 'end'}")
        block = handle.read(STREAM_BLOCK_BYTES)
        if not block:
            break
        scanned += len(block)
        if scanned > max_scan:
            raise OverflowError(scanned)
        tail = block[-1:]
        newlines = block.count(b"\n")
        if line + newlines < first:  # the whole block lies before the range
            line += newlines
            continue
        position = 0
        while position < len(block):
            newline = block.find(b"\n", position)
            end = len(block) if newline < 0 else newline + 1
            if line >= first:
                out += block[position:end]
                if len(out) > max_bytes:
                    raise ValueError(len(out))
            if newline < 0:
                break
            line += 1
            position = end
            if last is not None and line > last:
                return bytes(out), last
    return bytes(out), line - (tail in (b"", b"\n"))


def count_lines(handle: BinaryIO, *, max_scan: int) -> int:
    """Lines of an open file (a last line without newline counts), read block by block;
    OverflowError past `max_scan` bytes."""
    count = scanned = 0
    tail = b""
    while True:
        check_deadline("counting lines")
        block = handle.read(STREAM_BLOCK_BYTES)
        if not block:
            return count + (tail not in (b"", b"\n"))
        scanned += len(block)
        if scanned > max_scan:
            raise OverflowError(scanned)
        count += block.count(b"\n")
        tail = block[-1:]
