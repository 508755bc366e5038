"""What the one-call baselines put in front of the model.

- direct: whole files, most relevant first, as many as fit the context window (the paper's "base
  model" baseline: the repository as text, cut to the window).
- retrieval: BM25 over chunks of about one function or class, the top chunks that fit (the common
  RAG scaffold).

Both rank with BM25 (bm25s) over the same code-aware terms, so they differ only in what they show:
whole files or chunks. Every shown line carries its number, because the answers cite `path:line`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reporlm.workspace import Repo, WorkspaceError

CHARS_PER_TOKEN = 3.5
"""A cautious guess for code (Qwen's tokenizer gives about 4.5 on Python); a context that still
overflows the window is shrunk and sent again (bench/modes.py)."""

CHUNK_LINES = 60
"""Chunks end at a definition boundary once this long, and are cut here when none comes."""

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_DEFINITION = re.compile(r"^[ \t]{0,4}(?:(?:async[ \t]+)?def|class)\b|^[ \t]{0,4}@")


def _bm25s() -> Any:
    """bm25s, imported on first use (it is in the bench extra) and kept quiet: on import it sets its
    logger to DEBUG, which would log every index build."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


def terms(text: str) -> list[str]:
    """Lower-cased identifiers and words, plus the parts of snake_case and CamelCase names, so
    `merge_cookies` matches "merge cookies" and `RequestsWarning` matches "warning"."""
    stopwords = _bm25s().stopwords.STOPWORDS_EN
    out: list[str] = []
    for word in _WORD.findall(text):
        lower = word.lower()
        if len(lower) > 1 and lower not in stopwords:
            out.append(lower)
        parts = [p.lower() for piece in word.split("_") for p in _CAMEL.findall(piece)]
        if len(parts) > 1:
            out += [p for p in parts if len(p) > 1 and p not in stopwords and p != lower]
    return out


@dataclass(frozen=True)
class Piece:
    path: str
    start: int
    end: int
    text: str
    """The lines themselves, unnumbered."""

    def render(self) -> str:
        numbered = "\n".join(f"{n}: {line}" for n, line in enumerate(self.text.split("\n"), self.start))
        return f"--- {self.path} (lines {self.start}-{self.end})\n{numbered}\n"

    @property
    def tokens_est(self) -> int:
        """estimate_tokens(self.render()) without building the text: line numbers and the header."""
        numbers = (self.end - self.start + 1) * (len(str(self.end)) + 2)
        return int((len(self.text) + numbers + len(self.path) + 30) / CHARS_PER_TOKEN) + 1

    @property
    def label(self) -> str:
        return f"{self.path}:{self.start}-{self.end}"


@dataclass
class Context:
    text: str
    pieces: list[str] = field(default_factory=list)
    """`path:start-end` of everything shown, in the order shown."""
    tokens_est: int = 0
    files_total: int = 0
    files_shown: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "pieces": len(self.pieces),
            "files_shown": self.files_shown,
            "files_total": self.files_total,
            "tokens_est": self.tokens_est,
        }


class Index:
    """One repository read once: its text files, their chunks and BM25 indexes over both."""

    def __init__(self, repo: Repo, source_roots: Sequence[str] = ()) -> None:
        bm25s = _bm25s()
        self.repo = repo
        self.source_roots = tuple(source_roots)
        self.files: list[Piece] = []
        self.chunks: list[Piece] = []
        for path in repo.files():
            try:
                text = repo.read(path)
            except WorkspaceError:
                continue
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            if not lines:
                continue
            self.files.append(Piece(path, 1, len(lines), "\n".join(lines)))
            self.chunks += chunk(path, lines)
        self._file_bm25 = bm25s.BM25()
        self._file_bm25.index([terms(f"{p.path}\n{p.text}") or [""] for p in self.files], show_progress=False)
        self._chunk_bm25 = bm25s.BM25()
        self._chunk_bm25.index(
            [terms(f"{p.path}\n{p.text}") or [""] for p in self.chunks], show_progress=False
        )

    def in_sources(self, path: str) -> bool:
        return any(path == root or path.startswith(root.rstrip("/") + "/") for root in self.source_roots)

    def ranked_files(self, query: str) -> list[Piece]:
        """Files by BM25 score; files of the library's own source first when the corpus names it."""
        scores = _scores(self._file_bm25, terms(query), len(self.files))
        order = sorted(
            range(len(self.files)), key=lambda i: (not self.in_sources(self.files[i].path), -scores[i])
        )
        return [self.files[i] for i in order]

    def ranked_chunks(self, query: str) -> list[Piece]:
        scores = _scores(self._chunk_bm25, terms(query), len(self.chunks))
        order = sorted(range(len(self.chunks)), key=lambda i: -scores[i])
        return [self.chunks[i] for i in order if scores[i] > 0]


def _scores(bm25: Any, query_terms: list[str], n: int) -> list[float]:
    if not query_terms or n == 0:
        return [0.0] * n
    return [float(s) for s in bm25.get_scores(query_terms)]


def chunk(path: str, lines: Sequence[str]) -> list[Piece]:
    """Split a file at top-level and method definitions (a decorator starts its definition), into
    chunks of at most CHUNK_LINES lines; a long stretch with no definition is cut at that size."""
    chunks: list[Piece] = []
    start = 0
    for i in range(1, len(lines) + 1):
        at_end = i == len(lines)
        boundary = not at_end and _DEFINITION.match(lines[i]) and not _DEFINITION.match(lines[i - 1])
        long_enough = i - start >= CHUNK_LINES // 2
        if at_end or i - start >= CHUNK_LINES or (boundary and long_enough):
            chunks.append(Piece(path, start + 1, i, "\n".join(lines[start:i])))
            start = i
    return chunks


def fit(pieces: Iterable[Piece], budget_tokens: int, *, cut: bool = False) -> tuple[list[Piece], int]:
    """The pieces, in order, that fit the budget. One too large is skipped; with ``cut``, while at
    least half the budget is free it is shown from its first line to as far as fits instead."""
    chosen: list[Piece] = []
    used = 0
    for piece in pieces:
        cost = piece.tokens_est
        if used + cost > budget_tokens and cut and used <= budget_tokens // 2:
            piece = head(piece, budget_tokens - used)
            cost = piece.tokens_est
        if used + cost <= budget_tokens and piece.text:
            chosen.append(piece)
            used += cost
    return chosen, used


def head(piece: Piece, budget_tokens: int) -> Piece:
    """The longest leading part of ``piece`` that fits ``budget_tokens``."""
    lines = piece.text.split("\n")
    low, high = 0, len(lines)
    while low < high:  # the largest n whose first n lines fit
        mid = (low + high + 1) // 2
        if (
            Piece(piece.path, piece.start, piece.start + mid - 1, "\n".join(lines[:mid])).tokens_est
            <= budget_tokens
        ):
            low = mid
        else:
            high = mid - 1
    return Piece(piece.path, piece.start, piece.start + low - 1, "\n".join(lines[:low]))


def direct_context(index: Index, query: str, budget_tokens: int) -> Context:
    chosen, used = fit(index.ranked_files(query), budget_tokens, cut=True)
    return _context(index, chosen, used)


def retrieval_context(index: Index, query: str, budget_tokens: int) -> Context:
    chosen, used = fit(index.ranked_chunks(query), budget_tokens)
    return _context(index, chosen, used)


def _context(index: Index, chosen: list[Piece], used: int) -> Context:
    return Context(
        text="\n".join(p.render() for p in chosen),
        pieces=[p.label for p in chosen],
        tokens_est=used,
        files_total=len(index.files),
        files_shown=len({p.path for p in chosen}),
    )
