"""Sub-call answers by (model, prompt), kept for a server's life within a size cap.

An unchanged question about unchanged text costs nothing the second time; the cap keeps a
long-running server from holding every prompt it ever sent (each up to the sub-call prompt limit).
Past it, the answers used least recently go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

Key = tuple[str, str]

DEFAULT_MB = 64.0


def _size(key: Key, answer: str) -> int:
    # Characters, not encoded bytes: cheap, and within a small factor of the memory they hold.
    return len(key[0]) + len(key[1]) + len(answer)


class SubcallCache:
    """A dict-like (`key in cache`, `cache[key]`, `cache[key] = answer`) least-recently-used cache."""

    def __init__(self, max_mb: float = DEFAULT_MB) -> None:
        self._entries: OrderedDict[Key, str] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0
        self.max_bytes = 0
        self.resize(max_mb)

    def resize(self, max_mb: float) -> None:
        """A new cap in MB (0: keep nothing); answers beyond it go at once."""
        with self._lock:
            self.max_bytes = max(0, int(max_mb * 1024 * 1024))
            self._evict()

    @property
    def size(self) -> int:
        """What the kept answers and their prompts add up to (characters)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __getitem__(self, key: Key) -> str:
        with self._lock:
            answer = self._entries[key]
            self._entries.move_to_end(key)
            return answer

    def __setitem__(self, key: Key, answer: str) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= _size(key, old)
            self._entries[key] = answer
            self._bytes += _size(key, answer)
            self._evict()

    def _evict(self) -> None:
        while self._entries and self._bytes > self.max_bytes:
            key, answer = self._entries.popitem(last=False)
            self._bytes -= _size(key, answer)
