"""A ranked, budgeted map of the repository: the files that matter most and their key definitions.

Files are nodes; a file that references a name defined in another file points to it. PageRank
over that graph, personalized towards the files and names a question mentions, orders the files;
each file's rank flows to the definitions its referrers use. The map lists the best definitions,
grouped by file, as many as fit a token budget. Tests, examples and vendored code rank lower.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Ranking weights (after aider's repo map, named rather than inline).
MENTIONED_NAME = 10.0
"""A name the question mentions."""
SPECIFIC_NAME = 3.0
"""A long snake_case or camelCase name: a reference to it says more than one to `get`."""
PRIVATE_NAME = 0.1
"""A name starting with an underscore."""
COMMON_NAME = 0.1
"""A name defined in many files (`__init__`, `run`): it links files that may be unrelated."""
COMMON_NAME_FILES = 5
PERIPHERAL_FILE = 0.1
"""Tests, examples, docs and vendored code."""
MENTIONED_FILE = 20.0
"""Personalization weight of a file whose name the question mentions."""
DAMPING = 0.85
ITERATIONS = 40
TOLERANCE = 1e-7

# Definitions worth a line in the map: containers, callables, types and top-level constants.
_MAP_KINDS = frozenset(
    {
        "class",
        "interface",
        "enum",
        "struct",
        "trait",
        "function",
        "method",
        "type",
        "module",
        "macro",
        "constant",
    }
)
_PERIPHERAL = re.compile(
    r"(^|/)(tests?|testing|__tests__|spec|specs|examples?|samples?|benchmarks?|bench|docs?|vendor|vendored|"
    r"third_party|thirdparty|external|extern|node_modules|fixtures?)(/|$)"
    r"|(^|/)(test_[^/]*|[^/]*_test\.[^/]+|[^/]*\.(test|spec)\.[^/]+|conftest\.py)$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "that",
        "this",
        "what",
        "which",
        "where",
        "when",
        "who",
        "how",
        "does",
        "file",
        "files",
        "code",
        "into",
        "are",
        "was",
        "were",
        "its",
        "use",
        "used",
        "uses",
        "using",
        "about",
        "there",
        "their",
        "them",
        "then",
        "than",
        "not",
        "but",
        "all",
        "any",
        "can",
        "has",
        "have",
        "had",
        "why",
    ]
)


def is_peripheral(path: str) -> bool:
    """Tests, examples, docs, benchmarks and vendored code: useful, but rarely the answer's core."""
    return _PERIPHERAL.search(path) is not None


def estimate_tokens(text: str) -> int:
    # About 3.5 characters a token for code: the engine's estimate, without a tokenizer.
    return len(text) * 2 // 7 + 1


@dataclass(frozen=True)
class MapEntry:
    path: str
    name: str
    kind: str
    line: int
    parent: str
    score: float


class RepoGraph:
    """The reference graph of the indexed files (built once per index generation)."""

    def __init__(
        self,
        files: dict[str, int],
        definitions: Iterable[tuple[int, str, str, int, str]],
        reference_counts: Iterable[tuple[int, str, int]],
    ) -> None:
        paths_by_blob: dict[int, list[str]] = defaultdict(list)
        for path, blob in files.items():
            paths_by_blob[blob].append(path)
        self.paths = sorted(files)
        index = {path: i for i, path in enumerate(self.paths)}
        self.defined_in: dict[str, set[int]] = defaultdict(set)
        self.definitions: dict[int, list[tuple[str, str, int, str]]] = defaultdict(list)
        for blob, name, kind, line, parent in definitions:
            for path in paths_by_blob.get(blob, ()):
                node = index[path]
                self.defined_in[name].add(node)
                if kind in _MAP_KINDS and (not parent or kind == "method"):
                    self.definitions[node].append((name, kind, line, parent))
        self.referenced: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for blob, name, count in reference_counts:
            if name not in self.defined_in:
                continue  # library and builtin names: nothing here to point at
            for path in paths_by_blob.get(blob, ()):
                self.referenced[index[path]].append((name, count))

    def rank(self, question: str = "") -> list[MapEntry]:
        """Definitions, best first, for a question (may be empty)."""
        n = len(self.paths)
        if n == 0:
            return []
        words = {w for w in _WORD.findall(question) if len(w) >= 3 and w.lower() not in _STOP}
        lowered = {w.lower() for w in words}
        peripheral = [is_peripheral(p) for p in self.paths]

        # Edges: referrer -> definer, one per (referrer, definer, name), with its weight.
        edges: list[tuple[int, int, str, float]] = []
        for source, names in self.referenced.items():
            for name, count in names:
                definers = self.defined_in[name]
                weight = math.sqrt(count) * self._name_weight(name, len(definers), name.lower() in lowered)
                for target in definers:
                    if target != source:
                        factor = PERIPHERAL_FILE if peripheral[target] else 1.0
                        edges.append((source, target, name, weight * factor))

        personal = [PERIPHERAL_FILE if peripheral[i] else 1.0 for i in range(n)]
        if lowered:
            for i, path in enumerate(self.paths):
                stem = path.rpartition("/")[2].partition(".")[0].lower()
                parts = {part.lower() for part in path.split("/")}
                if stem in lowered or parts & lowered:
                    personal[i] *= MENTIONED_FILE
            for name in words:
                for i in self.defined_in.get(name, ()):
                    personal[i] *= MENTIONED_FILE
        ranks = _pagerank(n, edges, personal)

        # Each referrer's rank flows to the definitions it uses, in proportion to edge weight.
        out_weight = [0.0] * n
        for source, _, _, weight in edges:
            out_weight[source] += weight
        score: dict[tuple[int, str], float] = defaultdict(float)
        for source, target, name, weight in edges:
            score[(target, name)] += ranks[source] * weight / out_weight[source]
        entries: list[MapEntry] = []
        for node, defs in self.definitions.items():
            # A small share of the file's own rank keeps unreferenced definitions in order too.
            base = ranks[node] * 0.05 / max(1, len(defs))
            for name, kind, line, parent in defs:
                boost = MENTIONED_NAME if name.lower() in lowered else 1.0
                value = (score.get((node, name), 0.0) + base) * boost
                entries.append(MapEntry(self.paths[node], name, kind, line, parent, value))
        entries.sort(key=lambda e: (-e.score, e.path, e.line))
        return entries

    @staticmethod
    def _name_weight(name: str, definers: int, mentioned: bool) -> float:
        weight = 1.0
        if mentioned:
            weight *= MENTIONED_NAME
        if len(name) >= 8 and ("_" in name.strip("_") or re.search(r"[a-z][A-Z]", name)):
            weight *= SPECIFIC_NAME
        if name.startswith("_"):
            weight *= PRIVATE_NAME
        if definers > COMMON_NAME_FILES:
            weight *= COMMON_NAME
        return weight


def _pagerank(n: int, edges: list[tuple[int, int, str, float]], personal: list[float]) -> list[float]:
    total = sum(personal)
    teleport = [p / total for p in personal]
    out: list[dict[int, float]] = [defaultdict(float) for _ in range(n)]
    for source, target, _, weight in edges:
        out[source][target] += weight
    links = [
        (i, [(t, w / s) for t, w in targets.items()])
        for i, targets in enumerate(out)
        if (s := sum(targets.values()))
    ]
    has_links = [False] * n
    for i, _ in links:
        has_links[i] = True
    rank = list(teleport)
    for _ in range(ITERATIONS):
        # Rank of files without outgoing links is spread like a teleport.
        dangling = sum(rank[i] for i in range(n) if not has_links[i])
        new = [(1 - DAMPING + DAMPING * dangling) * t for t in teleport]
        for i, targets in links:
            share = DAMPING * rank[i]
            for target, fraction in targets:
                new[target] += share * fraction
        change = sum(abs(a - b) for a, b in zip(new, rank, strict=True))
        rank = new
        if change < TOLERANCE:
            break
    return rank


def render_map(
    entries: list[MapEntry],
    signature: Callable[[MapEntry], str],
    *,
    max_tokens: int,
    total_files: int,
) -> str:
    """The best entries that fit `max_tokens`, grouped by file in rank order, lines in order."""
    if not entries or max_tokens <= 0:
        return ""
    cache: dict[int, str] = {}

    def text_for(count: int) -> str:
        if count not in cache:
            cache[count] = _render(entries[:count], signature, total_files)
        return cache[count]

    # Binary search on how many entries fit: rendering is cheap, the budget is what matters.
    low, high = 0, min(len(entries), 4 * max_tokens)
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_tokens(text_for(middle)) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return text_for(low) if low else ""


def _render(entries: list[MapEntry], signature: Callable[[MapEntry], str], total_files: int) -> str:
    by_file: dict[str, list[MapEntry]] = {}
    for entry in entries:
        by_file.setdefault(entry.path, []).append(entry)
    lines = [
        f"Repository map ({len(by_file)} of {total_files} files, most referenced first; `line: definition`):"
    ]
    for path, items in by_file.items():
        lines.append(f"{path}")
        for entry in sorted(items, key=lambda e: e.line):
            where = f"  (in {entry.parent})" if entry.parent else ""
            lines.append(f"  {entry.line}: {signature(entry)}{where}")
    return "\n".join(lines)
