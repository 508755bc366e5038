"""The prefix cache's file format and housekeeping, with made-up state bytes (no model needed)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reporlm.llm import prefix_cache
from reporlm.llm.prefix_cache import MAGIC, PrefixCache, file_sha256, folder_size

FINGERPRINT = {"model_sha256": "ab" * 32, "n_ctx": 4096, "n_batch": 512, "llama_cpp": "0.3.36"}
TOKENS = [151644, 8948, 198, 2610, 525, 264, 10950]
STATE = bytes(range(256)) * 64


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[PrefixCache]:
    c = PrefixCache(tmp_path / "prefixes", FINGERPRINT, max_bytes=0, label="abab")
    yield c
    c.close()


def stored(cache: PrefixCache, tokens: list[int] = TOKENS, state: bytes = STATE) -> Path:
    cache.put(tokens, state)
    cache.flush()
    path = cache.path_for(tokens)
    assert path.is_file()
    return path


def test_a_state_round_trips_through_a_file_another_process_can_read(cache: PrefixCache) -> None:
    path = stored(cache)
    assert path.read_bytes().startswith(MAGIC) and path.name.startswith("abab-")
    again = PrefixCache(cache.directory, dict(FINGERPRINT), max_bytes=0, label="abab")
    try:
        assert again.contains(TOKENS)
        assert again.get(TOKENS) == STATE
        assert not again.contains(TOKENS[:-1]) and again.get(TOKENS[:-1]) is None
        assert again.get([*TOKENS, 13]) is None
    finally:
        again.close()


def test_a_state_is_served_from_memory_until_its_file_is_written(cache: PrefixCache, monkeypatch) -> None:
    release = threading.Event()
    write = cache._write

    def slow_write(path: Path, record: bytes) -> None:
        release.wait(10)
        write(path, record)

    monkeypatch.setattr(cache, "_write", slow_write)
    cache.put(TOKENS, STATE)
    assert not cache.path_for(TOKENS).exists()
    assert cache.contains(TOKENS) and cache.get(TOKENS) == STATE
    release.set()
    cache.flush()
    assert cache.path_for(TOKENS).is_file() and cache._pending == {}


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: d[:-1], id="truncated by one byte"),
        pytest.param(lambda d: d[: len(d) // 2], id="truncated in half"),
        pytest.param(lambda d: d[: len(MAGIC) + 2], id="truncated in the length"),
        pytest.param(lambda d: b"", id="empty"),
        pytest.param(lambda d: d + b"\0", id="a trailing byte"),
        pytest.param(lambda d: d[:-10] + bytes(10), id="state bytes changed"),
        pytest.param(lambda d: b"X" + d[1:], id="wrong magic"),
        pytest.param(
            lambda d: d[: len(MAGIC)] + (2**31).to_bytes(4, "little") + d[len(MAGIC) + 4 :], id="huge header"
        ),
        pytest.param(lambda d: d.replace(b'"format": 1', b'"format": 9'), id="another format"),
        pytest.param(lambda d: d.replace(b'"n_tokens": 7', b'"n_tokens": 6'), id="wrong token count"),
        pytest.param(lambda d: d.replace(b'"sha256": "', b'"sha256": "0'), id="bad checksum"),
        pytest.param(lambda d: d.replace(b"{", b"[", 1), id="header not JSON"),
        pytest.param(lambda d: os.urandom(len(d)), id="random bytes"),
    ],
)
def test_a_damaged_file_is_ignored_and_removed_never_raised(cache: PrefixCache, damage) -> None:
    path = stored(cache)
    path.write_bytes(damage(path.read_bytes()))
    assert cache.get(TOKENS) is None
    assert not path.exists()
    # And the prefix is simply stored again.
    assert stored(cache) == path and cache.get(TOKENS) == STATE


def test_a_file_for_other_tokens_or_other_settings_is_refused(cache: PrefixCache, tmp_path: Path) -> None:
    path = stored(cache)
    other_tokens = [*TOKENS[:-1], 99]
    impostor = cache.path_for(other_tokens)
    impostor.write_bytes(path.read_bytes())  # right checksum, wrong tokens
    assert cache.get(other_tokens) is None and not impostor.exists()

    other = PrefixCache(cache.directory, {**FINGERPRINT, "n_ctx": 8192}, max_bytes=0, label="abab")
    try:
        assert other.path_for(TOKENS) != path  # other settings never even look at this file
        other.path_for(TOKENS).write_bytes(path.read_bytes())
        assert other.get(TOKENS) is None
    finally:
        other.close()
    assert cache.get(TOKENS) == STATE


def test_past_the_cap_the_least_recently_used_files_go(tmp_path: Path) -> None:
    one = len(PrefixCache(tmp_path, FINGERPRINT, max_bytes=0)._record(TOKENS, STATE))
    cache = PrefixCache(tmp_path / "p", FINGERPRINT, max_bytes=int(2.5 * one), label="abab")
    try:
        first, second = stored(cache, [1, 2, 3]), stored(cache, [1, 2, 4])
        os.utime(first, (time.time() - 100, time.time() - 100))
        os.utime(second, (time.time() - 50, time.time() - 50))
        assert cache.get([1, 2, 3]) == STATE  # a hit makes `first` the most recently used
        third = stored(cache, [1, 2, 5])
        assert first.exists() and third.exists() and not second.exists()
        assert folder_size(cache.directory) <= cache.max_bytes
        assert folder_size(cache.directory, "abab") == folder_size(cache.directory)
        assert folder_size(cache.directory, "cdcd") == 0
    finally:
        cache.close()


def test_a_state_bigger_than_the_cap_is_not_stored(tmp_path: Path) -> None:
    cache = PrefixCache(tmp_path, FINGERPRINT, max_bytes=1000)
    try:
        cache.put(TOKENS, STATE)
        cache.flush()
        assert not cache.contains(TOKENS) and list(tmp_path.iterdir()) == []
    finally:
        cache.close()


def test_a_failed_write_leaves_no_file_and_no_error(cache: PrefixCache, monkeypatch, caplog) -> None:
    def full_disk(src: str, dst: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(prefix_cache.os, "replace", full_disk)
    cache.put(TOKENS, STATE)
    cache.flush()
    assert list(cache.directory.iterdir()) == []  # neither the file nor its temporary
    assert not cache.contains(TOKENS) and cache.get(TOKENS) is None
    assert "No space left" in caplog.text


def test_temporary_files_of_dead_writers_are_cleared(cache: PrefixCache) -> None:
    stored(cache)
    dead = cache.directory / ".abab-0.x.tmp"
    live = cache.directory / ".abab-1.y.tmp"
    dead.write_bytes(b"half")
    live.write_bytes(b"being written")
    os.utime(dead, (time.time() - 7200, time.time() - 7200))
    cache.evict()
    assert not dead.exists() and live.exists() and cache.get(TOKENS) == STATE


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from reporlm.llm.prefix_cache import PrefixCache
    fingerprint = {fingerprint!r}
    cache = PrefixCache(Path(sys.argv[1]), fingerprint, max_bytes=0, label="abab")
    state = bytes([int(sys.argv[2])]) * (1 << 20)
    for _ in range(15):
        cache.put({tokens!r}, state)
        cache.flush()
    cache.close()
    """
)


def test_processes_writing_and_reading_one_prefix_see_whole_files_or_none(cache: PrefixCache) -> None:
    script = _WRITER.format(fingerprint=FINGERPRINT, tokens=TOKENS)
    writers = [
        subprocess.Popen([sys.executable, "-c", script, str(cache.directory), str(byte)]) for byte in (1, 2)
    ]
    valid = {bytes([1]) * (1 << 20), bytes([2]) * (1 << 20)}
    while any(w.poll() is None for w in writers):
        state = cache.get(TOKENS)
        assert state is None or state in valid
    assert [w.wait() for w in writers] == [0, 0]
    assert cache.get(TOKENS) in valid
    assert not [p for p in cache.directory.iterdir() if p.suffix == ".tmp"]


def test_a_model_file_is_hashed_once_per_version(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" * 1000)
    stamps = tmp_path / "digests"
    expected = hashlib.sha256(model.read_bytes()).hexdigest()
    assert file_sha256(model, stamps) == expected
    (stamp,) = stamps.iterdir()
    recorded = json.loads(stamp.read_text())
    stamp.write_text(json.dumps({**recorded, "sha256": "remembered"}))
    assert file_sha256(model, stamps) == "remembered"  # not hashed again
    model.write_bytes(b"GGUF" * 1001)  # a new version of the file is hashed afresh
    assert file_sha256(model, stamps) == hashlib.sha256(model.read_bytes()).hexdigest()
