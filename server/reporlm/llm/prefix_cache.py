"""The embedded model's state after a conversation's stable prefix, kept on disk across processes.

Every ``reporlm ask`` is a new process, and the first thing each one does is process the same system
prompt and worked example (thousands of tokens, tens of seconds on two cores). This cache keeps the
key/value state llama.cpp computed for such a prefix in the user cache folder, so the next process
loads it in a fraction of a second instead.

What is stored is one sequence's KV cells (``llama_state_seq_get_data``), not ``Llama.save_state``:
that also copies a logits buffer of n_batch × vocabulary floats (hundreds of MB for Qwen), which a
prefix does not need because the tokens after it are always evaluated before sampling.

One file per prefix, named by a digest of the fingerprint (model file sha256, context settings,
llama-cpp version) and the exact tokens::

    magic | header length (u32) | header (JSON) | tokens (int32 LE) | state

The header holds the fingerprint, the token count, the state size and a sha256 of tokens + state. A
file that is truncated, corrupt, written by other settings, or holds other tokens is ignored and
removed, and the prefix is recomputed: a bad file costs time, never an answer. Files are written to a
temporary name in the same folder and renamed, so concurrent processes see whole files or none; the
checksum catches what a crash could still tear, so there is no fsync. Past the size cap the least
recently used files go (a hit refreshes a file's mtime).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = 1
MAGIC = b"reporlm-kv\n"
SUFFIX = ".kv"
_LENGTH = struct.Struct("<I")
_STALE_TEMP_SECONDS = 3600  # a temporary file this old belongs to a writer that died


def _token_bytes(tokens: Sequence[int]) -> bytes:
    return struct.pack(f"<{len(tokens)}i", *tokens)


class PrefixCache:
    """Prefix states of one model under one set of context settings, in ``directory``.

    ``fingerprint`` is everything besides the tokens that decides whether a stored state fits the
    context loading it (JSON-serializable). ``max_bytes`` caps the folder's ``.kv`` files (0: no cap).
    ``put`` hands the write to a background thread, so the call that computed the state goes on; until
    the file is written, ``get`` serves the state from memory.
    """

    def __init__(
        self, directory: Path, fingerprint: Mapping[str, Any], *, max_bytes: int, label: str = "prefix"
    ) -> None:
        self.directory = directory
        self.fingerprint = json.loads(json.dumps(dict(fingerprint), sort_keys=True))
        self.max_bytes = max_bytes
        self.label = "".join(c for c in label if c.isalnum() or c in "._-")[:40] or "prefix"
        self._salt = hashlib.sha256(json.dumps(self.fingerprint, sort_keys=True).encode()).digest()
        self._pending: dict[Path, bytes] = {}
        self._guard = threading.Lock()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reporlm-prefix-cache")
        self._writes: list[Future[None]] = []

    # -- lookups --------------------------------------------------------------------------

    def path_for(self, tokens: Sequence[int]) -> Path:
        digest = hashlib.sha256(self._salt + _token_bytes(tokens)).hexdigest()[:40]
        return self.directory / f"{self.label}-{digest}{SUFFIX}"

    def contains(self, tokens: Sequence[int]) -> bool:
        """Whether a state for exactly these tokens is stored (not yet verified: ``get`` checks)."""
        path = self.path_for(tokens)
        with self._guard:
            if path in self._pending:
                return True
        return path.is_file()

    def get(self, tokens: Sequence[int]) -> bytes | None:
        """The stored state for exactly ``tokens``, or None (absent, or a bad file, now removed)."""
        path = self.path_for(tokens)
        with self._guard:
            pending = self._pending.get(path)
        if pending is not None:
            return pending
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read the prefix cache file %s: %s", path, exc)
            return None
        state = self._parse(data, tokens)
        if state is None:
            log.warning("ignoring a bad prefix cache file %s; the prefix is recomputed", path.name)
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: evicted last
        return state

    def _parse(self, data: bytes, tokens: Sequence[int]) -> bytes | None:
        view = memoryview(data)
        head = len(MAGIC) + _LENGTH.size
        if len(data) < head or bytes(view[: len(MAGIC)]) != MAGIC:
            return None
        (header_len,) = _LENGTH.unpack_from(data, len(MAGIC))
        try:
            header = json.loads(bytes(view[head : head + header_len]))
            n_tokens, state_bytes = int(header["n_tokens"]), int(header["state_bytes"])
            checksum, fingerprint = str(header["sha256"]), header["fingerprint"]
            if header.get("format") != FORMAT:
                return None
        except (ValueError, KeyError, TypeError):
            return None
        body = head + header_len
        if len(data) != body + 4 * n_tokens + state_bytes:
            return None  # truncated, or trailing bytes
        if fingerprint != self.fingerprint or n_tokens != len(tokens):
            return None
        payload = view[body:]
        if hashlib.sha256(payload).hexdigest() != checksum:
            return None
        if bytes(payload[: 4 * n_tokens]) != _token_bytes(tokens):
            return None
        return bytes(payload[4 * n_tokens :])

    def discard(self, tokens: Sequence[int]) -> None:
        """Forget the state stored for ``tokens`` (one that loaded badly)."""
        path = self.path_for(tokens)
        with self._guard:
            self._pending.pop(path, None)
        path.unlink(missing_ok=True)

    # -- writes -----------------------------------------------------------------------------

    def put(self, tokens: Sequence[int], state: bytes) -> None:
        """Store ``state`` as the state after ``tokens``, in the background."""
        path = self.path_for(tokens)
        record = self._record(tokens, state)
        if self.max_bytes and len(record) > self.max_bytes:
            log.info("a %d MB prefix state is over the cache cap; not stored", len(record) >> 20)
            return
        with self._guard:
            self._pending[path] = state
            self._writes = [f for f in self._writes if not f.done()]
            self._writes.append(self._writer.submit(self._write, path, record))

    def _record(self, tokens: Sequence[int], state: bytes) -> bytes:
        payload = _token_bytes(tokens) + state
        header = json.dumps(
            {
                "format": FORMAT,
                "fingerprint": self.fingerprint,
                "n_tokens": len(tokens),
                "state_bytes": len(state),
                "sha256": hashlib.sha256(payload).hexdigest(),
            },
            sort_keys=True,
        ).encode()
        return MAGIC + _LENGTH.pack(len(header)) + header + payload

    def _write(self, path: Path, record: bytes) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{path.stem}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(record)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self.evict(keep=path)
        except OSError as exc:
            log.warning("cannot write the prefix cache file %s: %s", path, exc)
        finally:
            with self._guard:
                self._pending.pop(path, None)

    def evict(self, keep: Path | None = None) -> None:
        """Remove the least recently used files while the folder is over the cap, and dead temp files."""
        entries: list[tuple[float, int, Path]] = []
        now = time.time()
        try:
            listing = list(os.scandir(self.directory))
        except OSError:
            return
        for entry in listing:
            try:
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.name.endswith(".tmp") and entry.name.startswith("."):
                if now - stat.st_mtime > _STALE_TEMP_SECONDS:
                    Path(entry.path).unlink(missing_ok=True)
            elif entry.name.endswith(SUFFIX) and entry.is_file(follow_symlinks=False):
                entries.append((stat.st_mtime, stat.st_size, Path(entry.path)))
        if not self.max_bytes:
            return
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            if path == keep:
                continue
            path.unlink(missing_ok=True)  # another process may have removed it already
            total -= size

    def flush(self) -> None:
        """Wait for the writes handed to the background so far."""
        with self._guard:
            writes = list(self._writes)
        for write in writes:
            write.result()

    def close(self) -> None:
        self.flush()
        self._writer.shutdown(wait=True)


def file_sha256(path: Path, stamps: Path) -> str:
    """The sha256 of a (large) file, remembered in ``stamps`` by path, size and mtime."""
    stat = path.stat()
    key = hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    stamp = stamps / f"{key}.json"
    identity = {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        recorded = json.loads(stamp.read_text("utf-8"))
        if {k: recorded.get(k) for k in identity} == identity and isinstance(recorded.get("sha256"), str):
            return recorded["sha256"]
    except (OSError, ValueError, AttributeError):
        pass
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(8 << 20):
            digest.update(block)
    try:
        stamps.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({**identity, "sha256": digest.hexdigest()}), "utf-8")
    except OSError:
        pass  # hashed again next time
    return digest.hexdigest()


def folder_size(directory: Path, label: str | None = None) -> int:
    """Bytes of the cache files in ``directory`` (of one label when given)."""
    total = 0
    for path in directory.glob(f"{label}-*{SUFFIX}" if label else f"*{SUFFIX}"):
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total
