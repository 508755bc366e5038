"""The frame reader on its own: bounded headers and bodies, and finding the next message after garbage."""

from __future__ import annotations

import json
import random

import pytest

from reporlm.lsp.framing import Frame, FrameParser, Garbage


def frame(msg_id: int) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", "id": msg_id}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def body(msg_id: int) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": msg_id}).encode()


def parse(data: bytes, pieces: int | None = None, **limits: int) -> list[Frame | Garbage]:
    """Feed `data` whole, or in pieces of `pieces` bytes, then end the input."""
    parser = FrameParser(**limits)
    step = pieces or len(data) or 1
    out: list[Frame | Garbage] = []
    for start in range(0, len(data), step):
        out += parser.feed(data[start : start + step])
    return out + parser.finish()


def frames(items: list[Frame | Garbage]) -> list[bytes]:
    return [item.body for item in items if isinstance(item, Frame)]


def reasons(items: list[Frame | Garbage]) -> list[str]:
    return [item.reason for item in items if isinstance(item, Garbage)]


CASES = {
    "two frames": (frame(1) + frame(2), [body(1), body(2)], []),
    "a Content-Type header first": (
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + frame(1),
        [body(1)],
        [],
    ),
    "any case, stray line ends": (
        b"\r\ncontent-LENGTH:  %d \r\n\r\n" % len(body(1)) + body(1) + b"\r\n" + frame(2),
        [body(1), body(2)],
        [],
    ),
    "a huge length": (b"Content-Length: 99999999999999\r\n\r\n{}" + frame(2), [body(2)], ["over the limit"]),
    "a header line without its CRLF": (
        b"Content-Length: 10\r\nX-Bad" + frame(2) + frame(3),
        [body(2), body(3)],
        ["bytes before a header"],
    ),
    "a length without its CRLF": (b"Content-Length: 5" + frame(2), [body(2)], ["bytes before a header"]),
    "a length that is no number": (
        b"Content-Length: -5\r\n\r\n" + frame(2),
        [body(2)],
        ["a bad Content-Length"],
    ),
    "two lengths": (
        b"Content-Length: 3\r\nContent-Length: 4\r\n\r\n" + frame(2),
        [body(2)],
        ["a bad Content-Length"],
    ),
    "no length": (b"Content-Type: x\r\n\r\n" + frame(2), [body(2)], ["without Content-Length"]),
    "a line that is no header": (b"hello\r\n\r\n" + frame(2), [body(2)], ["not `Name: value`"]),
    "plain garbage": (b"\x00\xffgarbage" + frame(2), [body(2)], ["bytes before a header"]),
    "a length past the body": (
        b"Content-Length: 100000\r\n\r\n{}" + frame(2),
        [body(2)],
        ["shorter than its Content-Length"],
    ),
    "a header value padded with thousands of blanks": (
        b"X-Pad: a" + b" \t" * 3000 + b"b \r\n" + frame(1),
        [body(1)],
        [],
    ),
    "an empty body": (b"Content-Length: 0\r\n\r\n" + frame(2), [b"", body(2)], []),
    "input ends inside a body": (
        frame(1) + b"Content-Length: 50\r\n\r\n{",
        [body(1)],
        ["ended inside a body"],
    ),
}


@pytest.mark.parametrize("pieces", [None, 1, 7, 4096])
@pytest.mark.parametrize("case", list(CASES))
def test_frames_and_garbage_whatever_the_pieces(case: str, pieces: int | None) -> None:
    data, expected, why = CASES[case]
    items = parse(data, pieces, max_frame=100_000)
    assert frames(items) == expected
    assert len(reasons(items)) == len(why) and all(w in r for w, r in zip(why, reasons(items), strict=True))


def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_skipped() -> None:
    limit = 1000
    fits = b"[" + b" " * (limit - 2) + b"]"
    items = parse(b"Content-Length: 1000\r\n\r\n" + fits + frame(1), max_frame=limit)
    assert frames(items) == [fits, body(1)]
    items = parse(b"Content-Length: 1001\r\n\r\n" + fits + b" " + frame(1), max_frame=limit)
    assert frames(items) == [body(1)]


def test_a_header_without_an_end_is_given_up_after_the_header_limit() -> None:
    parser = FrameParser(max_header=100)
    assert parser.feed(b"Content-Length: 5\r\nX-Pad: " + b"a" * 200) == []
    assert parser.buffered < 100, "what cannot be a header is not kept"
    items = parser.feed(b"\r\n\r\n" + frame(1))
    assert frames(items) == [body(1)] and "no end of header" in reasons(items)[0]


def test_a_long_run_of_garbage_is_reported_as_it_goes_and_not_kept() -> None:
    parser = FrameParser()
    items: list[Frame | Garbage] = []
    for _ in range(40):
        items += parser.feed(b"x" * 65536)
    assert parser.buffered < 64 and sum(g.size for g in items if isinstance(g, Garbage)) >= 2 * 1024 * 1024


def test_random_garbage_between_frames_costs_at_most_the_frame_right_after_it() -> None:
    rng = random.Random(11)
    junk = [b"garbage", b"Content-Length: 7", b"\r\n", b"Content-Length: x\r\n\r\n", b"{}", b"\xff" * 9]
    for _ in range(300):
        data, clean = b"", []
        for i in range(6):
            noise = b"".join(rng.choice(junk) for _ in range(rng.randrange(3)))
            data += noise + frame(i)
            if not noise.strip(b"\r\n"):
                clean.append(body(i))
        got = frames(parse(data, rng.choice([None, 1, 3, 50])))
        assert set(clean) <= set(got), "a frame with no garbage right before it is never lost"
        assert all(g.startswith(b'{"jsonrpc"') <= (g in map(body, range(6))) for g in got), got
