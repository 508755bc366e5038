"""`repo.search`: definitions ranked by how well their words match a question in words.

Each definition is a small document of four fields: the words of its name (`verifyCitations`
and `verify_citations` are both "verify citations"), of its parent, of its signature, and its
doc (the first paragraph of its docstring or leading comment). They live in SQLite's FTS5
full-text index next to the symbols, written when a file is parsed, so a search costs a query,
not a pass over the repository; FTS5 stems words (Porter: "verifies" finds "verify") and ranks
with BM25. The words of a definition's path count too, added here: one blob can be at several
paths, and the index stores definitions per blob.
"""

from __future__ import annotations

import re

from .repomap import is_peripheral
from .tags import LEAF_KINDS

# Words of identifiers and text: HTTPServer -> HTTP, Server; parse_args -> parse, args; letters
# outside ASCII make words of their own.
_IDENTIFIER_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_a-zA-Z]+")
WEIGHTS = (3.0, 1.0, 1.0, 2.0)
"""BM25 weight of each field (name, parent, signature, doc): a word in the name says most."""
PATH_BONUS = 1.5
"""Added to a definition's score for each of the query's words its path contains."""
PERIPHERAL_FACTOR = 0.7
"""Tests, examples and docs rank below the code they are about, as in `repo.definitions`."""
VALUE_FACTOR = 0.8
"""Constants, fields and variables rank below the functions and classes that do something: a
search describes behaviour."""
KIND_FACTOR = 1.25
"""A query that says what it looks for ("which function ...", "the class that ...") ranks
definitions of that kind higher."""
_KINDS_NAMED = {
    "function": {"function", "method"},
    "method": {"method", "function"},
    "class": {"class", "interface", "struct", "trait"},
    "interface": {"interface", "trait", "class"},
    "constant": {"constant"},
    "enum": {"enum"},
}
MAX_TERMS = 32
# Words that carry no meaning in a question about code.
# fmt: off
_STOP = frozenset({
    "a", "an", "and", "any", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has",
    "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "so",
    "that", "the", "their", "them", "then", "there", "these", "this", "those", "to", "was", "what",
    "when", "where", "which", "who", "whom", "why", "will", "with", "would", "you", "your", "all",
    "each", "every", "some", "should", "could", "may", "might", "must", "also", "than", "not", "no",
    "yes",
})
# fmt: on


def words_of(text: str) -> list[str]:
    """The lower-case words of `text`, identifiers split at case changes and underscores."""
    # One pattern over the whole text: this runs for every definition while indexing.
    return [word.lower() for word in _IDENTIFIER_PART.findall(text)]


def search_columns(
    name: str, kind: str, line: int, end_line: int, parent: str, signature: str, doc: str
) -> tuple[str, str, str, str]:
    """The four full-text fields of a definition (its Definition fields in order)."""
    return " ".join(words_of(name)), " ".join(words_of(parent)), " ".join(words_of(signature)), doc


def query_terms(query: str) -> list[str]:
    """The words of a question worth searching for, in order, each once."""
    seen: dict[str, None] = {}
    for word in words_of(query):
        if word not in _STOP and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)[:MAX_TERMS]


def match_expression(terms: list[str]) -> str:
    """An FTS5 query matching any of `terms` (each quoted, so no word is read as an operator)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def kinds_named(terms: list[str]) -> set[str]:
    """The kinds of definition a query names: "function" in "which function verifies ..."."""
    return {kind for term in terms for kind in _KINDS_NAMED.get(term.removesuffix("s"), ())}


def rerank_score(score: float, path: str, kind: str, terms: list[str], wanted: set[str]) -> float:
    """BM25 `score` with the path's share (words of the query in the path); the kinds the query
    names first, tests and values last."""
    path_words = set(words_of(path))
    score += PATH_BONUS * sum(1 for term in terms if any(_alike(term, word) for word in path_words))
    if kind in wanted:
        score *= KIND_FACTOR
    if kind in LEAF_KINDS:
        score *= VALUE_FACTOR
    return score * PERIPHERAL_FACTOR if is_peripheral(path) else score


def _alike(a: str, b: str) -> bool:
    """The same word, or one with a short ending more ("citation", "citations"): FTS5 stems
    the fields itself, paths are compared here."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return short == long or (len(short) >= 4 and len(long) - len(short) <= 3 and long.startswith(short))
