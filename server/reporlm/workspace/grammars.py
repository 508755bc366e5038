"""The tree-sitter grammars we parse with and the tags queries we maintain for them (grammars/).

`grammars/languages.toml` maps file extensions to a grammar wheel (`tree-sitter-<lang>` on PyPI,
imported lazily) and to the queries in `grammars/<lang>/tags.scm`. The folder ships inside the
wheel as `reporlm/grammars`; in an editable install it is found at the top of the checkout.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import logging
import os
import re
import threading
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Language, Parser, Query

log = logging.getLogger(__name__)

GRAMMARS_ENV = "REPORLM_GRAMMARS_DIR"


def grammars_dir() -> Path:
    """The folder holding languages.toml: an override, the wheel's copy, or the checkout's."""
    override = os.environ.get(GRAMMARS_ENV)
    package = Path(__file__).resolve().parents[1]  # .../reporlm
    candidates = [Path(override)] if override else []
    # Wheels carry the folder inside the package (hatch force-include); editable installs do
    # not, so the checkout's top-level folder is the fallback.
    candidates += [package / "grammars", package.parents[1] / "grammars"]
    for folder in candidates:
        if (folder / "languages.toml").is_file():
            return folder
    raise FileNotFoundError(
        "the grammars folder (languages.toml and tags queries) is missing; looked in "
        + ", ".join(str(c) for c in candidates)
    )


@dataclass(frozen=True)
class Grammar:
    """One tree-sitter grammar and the tags queries we run on files it parses."""

    key: str  # the table name in languages.toml: "python", "tsx", ...
    name: str  # display name: "Python", "TSX", ...
    package: str  # the grammar wheel's module: "tree_sitter_python"
    function: str  # the module's function returning the grammar: "language", "language_tsx"
    extensions: tuple[str, ...]
    filenames: tuple[str, ...]
    queries: tuple[Path, ...]
    fixture: Path | None
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def query_text(self) -> str:
        return "\n".join(path.read_text(encoding="utf-8") for path in self.queries)

    def package_version(self) -> str:
        distribution = self.package.replace("_", "-")
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"

    def language(self) -> Language:
        """The compiled grammar (imports its wheel; ImportError when it is not installed)."""
        return _load_language(self.package, self.function)

    def query(self) -> Query:
        """The whole tags query compiled against the grammar, once per process."""
        with self._lock:
            compiled = _WHOLE.get(self.key)
            if compiled is None:
                from tree_sitter import Query

                compiled = _WHOLE[self.key] = Query(self.language(), self.query_text())
            return compiled

    def tags_query(self) -> tuple[Query, tuple[str | None, ...]]:
        """The tags query for one pass over a tree, and for each of its patterns the kind of
        reference it finds ("call" for `@reference.call`), None for other patterns. Only `@name`
        is captured for references: they are most of the matches, and fewer captures make them
        cheaper."""
        with self._lock:
            compiled = _TAGS.get(self.key)
            if compiled is None:
                compiled = _TAGS[self.key] = _compile_tags_query(self)
            return compiled

    def supports(self, feature: str) -> bool:
        """Whether our queries for this grammar find `feature`: "calls" (`@reference.call`),
        "bases" (`@reference.base` or `@reference.implementation`) or "imports" (`@import.module`
        or `@import.relative`)."""
        return feature in _features(self.query_text())

    def parser(self) -> Parser:
        """A parser for this grammar, one per thread (a parser is not safe to share)."""
        parsers: dict[str, Parser] | None = getattr(_PARSERS, "by_key", None)
        if parsers is None:
            parsers = _PARSERS.by_key = {}
        found = parsers.get(self.key)
        if found is None:
            from tree_sitter import Parser

            found = parsers[self.key] = Parser(self.language())
        return found


@cache
def _load_language(package: str, function: str) -> Language:
    from tree_sitter import Language

    module = importlib.import_module(package)
    return Language(getattr(module, function)())


_WHOLE: dict[str, Query] = {}
_TAGS: dict[str, tuple[Query, tuple[str | None, ...]]] = {}
_PARSERS = threading.local()
_REFERENCE_KIND = re.compile(rb"@reference\.(\w+)")
_FEATURE_CAPTURES = {
    "calls": re.compile(r"@reference\.call\b"),
    "bases": re.compile(r"@reference\.(?:base|implementation)\b"),
    "imports": re.compile(r"@import\.(?:module|relative)\b"),
}


@cache
def _features(query_text: str) -> frozenset[str]:
    return frozenset(name for name, capture in _FEATURE_CAPTURES.items() if capture.search(query_text))


def _compile_tags_query(grammar: Grammar) -> tuple[Query, tuple[str | None, ...]]:
    from tree_sitter import Query

    text = grammar.query_text()
    source = text.encode("utf-8")
    query = Query(grammar.language(), text)
    kinds: list[str | None] = []
    for index in range(query.pattern_count):
        found = _REFERENCE_KIND.search(
            source, query.start_byte_for_pattern(index), query.end_byte_for_pattern(index)
        )
        kinds.append(found.group(1).decode() if found else None)
    for index in range(query.capture_count):
        name = query.capture_name(index)
        if name.startswith("reference."):
            query.disable_capture(name)
    return query, tuple(kinds)


@dataclass(frozen=True)
class GrammarSet:
    grammars: dict[str, Grammar]
    by_extension: dict[str, Grammar]
    by_filename: dict[str, Grammar]
    folder: Path

    def for_path(self, path: str) -> Grammar | None:
        """The grammar for a repo-relative path, or None when no grammar handles its kind."""
        name = path.rpartition("/")[2].lower()
        found = self.by_filename.get(name)
        if found is not None:
            return found
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            return None
        return self.by_extension.get(ext)

    def names(self) -> list[str]:
        return [g.name for g in self.grammars.values()]

    def fingerprint(self) -> str:
        """Changes whenever a query or a grammar version changes: cached tags are then stale."""
        digest = hashlib.sha1()
        for grammar in self.grammars.values():
            digest.update(f"{grammar.key}={grammar.package_version()}\n".encode())
            digest.update(grammar.query_text().encode("utf-8"))
        return digest.hexdigest()


@cache
def load_grammars(folder: Path | None = None) -> GrammarSet:
    """Read languages.toml (cached per folder)."""
    folder = folder or grammars_dir()
    with open(folder / "languages.toml", "rb") as handle:
        config = tomllib.load(handle)
    grammars: dict[str, Grammar] = {}
    for key, table in config.items():
        fixture = table.get("fixture")
        grammars[key] = Grammar(
            key=key,
            name=table["name"],
            package=table["package"],
            function=table.get("function", "language"),
            extensions=tuple(ext.lower() for ext in table.get("extensions", ())),
            filenames=tuple(name.lower() for name in table.get("filenames", ())),
            queries=tuple(folder / rel for rel in table["queries"]),
            fixture=folder / fixture if fixture else None,
        )
    by_extension = {ext: g for g in grammars.values() for ext in g.extensions}
    by_filename = {name: g for g in grammars.values() for name in g.filenames}
    return GrammarSet(grammars, by_extension, by_filename, folder)
