"""Text helpers shared by listing, reading and searching: binary sniffing, decoding, lines."""

from __future__ import annotations

import codecs

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
