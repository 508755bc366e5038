"""The questions an IDE answers from the symbol index: who calls a name, what inherits from a
class, which files import a module, what definition holds a line, which definitions match
words. `Repo` exposes them; here they work on a `CodeView`, the index seen through one view.

They are syntactic and go by name, as tree-sitter tags do: a call of `obj.submit()` counts as
a call of every `submit`, and receiver types are not inferred.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from .errors import WorkspaceError
from .grammars import GrammarSet
from .index import SymbolIndex
from .modules import Parts, concerns, file_module, resolve, split_target
from .repomap import is_peripheral
from .symbol_search import WEIGHTS, kinds_named, match_expression, query_terms, rerank_score
from .symbols import MODULE, Caller, Importer, Match, Subclass, Symbol, name_matcher, symbol
from .tags import LEAF_KINDS, Base, Definition, Import

SEARCH_OVERFETCH = 10
"""repo.search reads this many times `k` ranked rows, then keeps those in view."""

# What each function needs from a language's queries, and the words that say so.
_FEATURES = {"callers": "calls", "subclasses": "bases", "importers": "imports"}
_FEATURE_WORDS = {"calls": "calls", "bases": "base classes", "imports": "imports"}


@dataclass
class CodeView:
    """The index through one view of the repository: `paths_by_blob` maps the blob of each
    file in view to its paths; `files` lists every file of the repository (for packages);
    `line_text(path, line)` and `line_count(path)` read the files as the view does."""

    index: SymbolIndex
    paths_by_blob: dict[int, list[str]]
    grammars: GrammarSet
    files: Collection[str]
    line_text: Callable[[str, int], str]
    line_count: Callable[[str], int]


def simple_name(name: object, function: str) -> str:
    """The last part of `name` ("Session.request" -> "request"); patterns are refused."""
    simple, _ = name_matcher(name)
    if simple is None:
        raise WorkspaceError(
            f"{function}() takes a name, not a pattern; use repo.symbols(name=...) for patterns"
        )
    return simple


def callers(view: CodeView, name: str, limit: int) -> list[Caller]:
    simple = simple_name(name, "callers")
    _require(view, "callers", _languages_defining(view, simple))
    rows = [
        (blob, lines)
        for blob, lines in view.index.references_named(simple, ["call"])
        if blob in view.paths_by_blob
    ]
    holders = _holders(view, {blob for blob, _ in rows})
    calls: dict[tuple[int, Definition | None], list[int]] = defaultdict(list)
    for blob, lines in rows:
        for line in lines:
            calls[(blob, _innermost(holders.get(blob, []), line))].append(line)
    found: list[Caller] = []
    for (blob, holder), lines in calls.items():
        for path in view.paths_by_blob[blob]:
            if holder is None:
                found.append(
                    Caller(MODULE, "module", path, 1, _safe_count(view, path), "", tuple(sorted(lines)))
                )
            else:
                found.append(
                    Caller(
                        holder.name,
                        holder.kind,
                        path,
                        holder.line,
                        holder.end_line,
                        holder.parent,
                        tuple(sorted(lines)),
                    )
                )
    found.sort(key=lambda c: (is_peripheral(c.path), c.path, c.line, c.name))
    return found[:limit]


def subclasses(view: CodeView, name: str, transitive: bool, limit: int) -> list[Subclass]:
    simple = simple_name(name, "subclasses")
    _require(view, "subclasses", _languages_defining(view, simple))
    found: dict[tuple[int, str, int], tuple[int, Base]] = {}  # (blob, child, line) -> (depth, base)
    searched: set[str] = set()
    frontier = {simple}
    depth = 1
    while frontier:
        searched |= frontier
        children: set[str] = set()
        for blob, base in _bases_of(view, frontier):
            key = (blob, base.child, base.child_line)
            if key not in found:
                found[key] = (depth, base)
                children.add(base.child.rpartition(".")[2])
        if not transitive:
            break
        frontier = children - searched
        depth += 1
    headers = _headers(view, {blob for blob, _, _ in found})
    definitions = _definitions_by_line(view, {blob for blob, _, _ in found})
    out: dict[tuple[str, int, str], tuple[int, Subclass]] = {}
    for (blob, child, line), (depth, base) in found.items():
        bases = tuple(headers.get((blob, child, line), [base.text]))
        parent, _, short = child.rpartition(".")
        definition = _child_definition(view, blob, child, line, definitions)
        if definition is None:  # a Rust `impl Trait for Type` block whose Type is not in view
            where, d = blob, Definition(short, "impl", line, line, parent, "")
        else:
            where, d = definition
        for path in view.paths_by_blob[where]:
            subclass = Subclass(d.name, d.kind, path, d.line, d.end_line, d.parent, bases)
            known = out.get((path, d.line, d.name))
            if known is None or depth < known[0]:
                out[(path, d.line, d.name)] = (depth, subclass)
    ordered = sorted(
        out.values(), key=lambda item: (item[0], is_peripheral(item[1].path), item[1].path, item[1].line)
    )
    return [s for _, s in ordered[:limit]]


def importers(view: CodeView, target: object, limit: int) -> list[Importer]:
    if not isinstance(target, str) or not target.strip(".: /\\'\"`"):
        raise WorkspaceError(
            "importers() takes a module or a name in one, such as 'pkg.models', 'pkg.models.Request' "
            "or 'src/pkg/models.py'"
        )
    language_of = {
        path: grammar.key
        for paths in view.paths_by_blob.values()
        for path in paths
        if (grammar := view.grammars.for_path(path)) is not None
    }
    _require(view, "importers", set(language_of.values()))
    first: dict[str, int] = {}
    modules: dict[str, Parts] = {}  # each importing file's own module, worked out once
    for parts, family in _targets(view, target):
        for blob, imported in view.index.imports_like(parts[-1]):
            for path in view.paths_by_blob.get(blob, ()):
                language = language_of.get(path)
                if language is None or family not in (None, _family(language)):
                    continue
                if first.get(path, imported.line + 1) <= imported.line:
                    continue  # the file is known to import it already, further up
                own = modules.get(path)
                if own is None:
                    own = modules[path] = file_module(language, path, view.files)
                names = resolve(language, path, own, imported, view.files)
                if concerns(names, parts) and not _imports_itself(language, path, own, imported, names):
                    first[path] = imported.line
    found = [Importer(path, line, view.line_text(path, line)) for path, line in first.items()]
    found.sort(key=lambda i: (is_peripheral(i.path), i.path))
    return found[:limit]


def symbol_at(view: CodeView, path: str, line: int) -> Symbol | None:
    holding = [d for _, d in view.index.definitions_in(view.paths_by_blob) if d.line <= line <= d.end_line]
    if not holding:
        return None
    return symbol(path, min(holding, key=lambda d: (d.end_line - d.line, -d.line)))


def search(view: CodeView, query: object, k: int, kinds: Callable[[str], bool]) -> list[Match]:
    if not isinstance(query, str) or not query.strip():
        raise WorkspaceError(
            "search() takes words describing what the code does, such as 'retry a failed request'"
        )
    if not view.index.searchable:
        raise WorkspaceError(
            "repo.search is unavailable: this Python's SQLite has no full-text search (FTS5)"
        )
    terms = query_terms(query)
    if not terms:
        return []
    expression = match_expression(terms)
    wanted = kinds_named(terms)
    limit: int | None = max(200, SEARCH_OVERFETCH * k)
    while True:
        rows = view.index.search(expression, WEIGHTS, limit)
        scored = [
            (rerank_score(score, path, d.kind, terms, wanted), path, d)
            for blob, d, score in rows
            if kinds(d.kind)
            for path in view.paths_by_blob.get(blob, ())
        ]
        if len(scored) >= k or limit is None or len(rows) < limit:
            break
        limit = None  # too few in view among the best: rank them all
    scored.sort(key=lambda item: (-item[0], item[1], item[2].line))
    return [
        Match(d.name, d.kind, path, d.line, d.end_line, d.parent, d.doc, round(score, 2))
        for score, path, d in scored[:k]
    ]


# ----- internals -----------------------------------------------------------------------------


def _require(view: CodeView, function: str, languages: Iterable[str]) -> None:
    """Refuse, saying why, when no language concerned has what `function` needs."""
    feature = _FEATURES[function]
    keys = set(languages)
    if not keys:
        keys = {
            g.key for paths in view.paths_by_blob.values() for p in paths if (g := view.grammars.for_path(p))
        }
    grammars = [view.grammars.grammars[key] for key in sorted(keys) if key in view.grammars.grammars]
    if not grammars or any(g.supports(feature) for g in grammars):
        return
    names = ", ".join(sorted({g.name for g in grammars}))
    supported = ", ".join(g.name for g in view.grammars.grammars.values() if g.supports(feature))
    raise WorkspaceError(
        f"repo.{function} is not supported for {names}: its queries find no {_FEATURE_WORDS[feature]} "
        f"(supported: {supported}). Search the text with repo.grep instead."
    )


def _languages_defining(view: CodeView, simple: str) -> set[str]:
    """The languages of the files in view that define `simple`."""
    return {
        g.key
        for blob, _ in view.index.definitions_named(simple)
        for path in view.paths_by_blob.get(blob, ())
        if (g := view.grammars.for_path(path)) is not None
    }


def _holders(view: CodeView, blobs: set[int]) -> dict[int, list[Definition]]:
    """Per blob, the definitions that can hold code (not constants, fields...)."""
    out: dict[int, list[Definition]] = defaultdict(list)
    for blob, d in view.index.definitions_in(blobs):
        if d.kind not in LEAF_KINDS:
            out[blob].append(d)
    return out


def _innermost(holders: list[Definition], line: int) -> Definition | None:
    best: Definition | None = None
    for d in holders:
        if d.line <= line <= d.end_line and (
            best is None or (d.end_line - d.line, -d.line) < (best.end_line - best.line, -best.line)
        ):
            best = d
    return best


def _safe_count(view: CodeView, path: str) -> int:
    try:
        return max(1, view.line_count(path))
    except WorkspaceError:
        return 1


def _bases_of(view: CodeView, names: set[str]) -> list[tuple[int, Base]]:
    """Class headers in view naming any of `names`, directly or through an import alias
    (`from m import Base as B` ... `class C(B)`: in that file, B is Base)."""
    rows = [(blob, b) for blob, b in view.index.bases_named(names) if blob in view.paths_by_blob]
    aliases: dict[str, set[int]] = defaultdict(set)
    for blob, _, alias in view.index.aliases_of(names):
        if alias not in names:
            aliases[alias].add(blob)
    if aliases:
        rows += [
            (blob, b)
            for blob, b in view.index.bases_named(aliases)
            if blob in aliases[b.name] and blob in view.paths_by_blob
        ]
    return rows


def _headers(view: CodeView, blobs: set[int]) -> dict[tuple[int, str, int], list[str]]:
    """Every base named in the headers of the classes of these blobs, in order."""
    out: dict[tuple[int, str, int], list[str]] = defaultdict(list)
    for blob, b in view.index.bases_in(blobs):
        out[(blob, b.child, b.child_line)].append(b.text)
    return out


def _definitions_by_line(view: CodeView, blobs: set[int]) -> dict[tuple[int, int], list[Definition]]:
    out: dict[tuple[int, int], list[Definition]] = defaultdict(list)
    for blob, d in view.index.definitions_in(blobs):
        out[(blob, d.line)].append(d)
    return out


def _child_definition(
    view: CodeView, blob: int, child: str, line: int, by_line: Mapping[tuple[int, int], list[Definition]]
) -> tuple[int, Definition] | None:
    """The definition of a class whose header names a base: the one at that line, or for a
    Rust `impl` block the type it is for, in the same file first."""
    for d in by_line.get((blob, line), ()):
        if d.qualified == child:
            return blob, d
    short = child.rpartition(".")[2]
    named = [
        (b, d)
        for b, d in view.index.definitions_named(short)
        if d.qualified == child and b in view.paths_by_blob and d.kind not in LEAF_KINDS
    ]
    named.sort(key=lambda item: item[0] != blob)
    return named[0] if named else None


def _imports_itself(language: str, path: str, own: Parts, imported: Import, names: list[Parts]) -> bool:
    """A module importing from itself (under `if __name__ == "__main__":`) is not a user of it;
    a package's `__init__` importing its submodules (`from . import x`) is."""
    if not names or names[0] != own:
        return False
    is_init = path.rpartition("/")[2] in ("__init__.py", "__init__.pyi")
    return not (language == "python" and is_init and imported.name)


def _targets(view: CodeView, target: str) -> list[tuple[Parts, str | None]]:
    """The module names a target stands for, each with the language family that can import it
    (None: any). A file in view (by path, or a path's end) is the module its language names it
    by; anything else is split on its separators."""
    cleaned = target.strip().strip("'\"`").removeprefix("./")
    files = [p for p in view.files if p == cleaned or p.endswith("/" + cleaned)] if "." in cleaned[1:] else []
    out: list[tuple[Parts, str | None]] = []
    for path in files:
        grammar = view.grammars.for_path(path)
        if grammar is not None:
            parts = file_module(grammar.key, path, view.files)
            if parts and (parts, _family(grammar.key)) not in out:
                out.append((parts, _family(grammar.key)))
    if not out:
        parts = split_target(cleaned, view.grammars.by_extension)
        if parts:
            out.append((parts, None))
        stem, dot, extension = cleaned.rpartition(".")
        if dot and "/" not in cleaned and extension.lower() in view.grammars.by_extension:
            out.append((split_target(stem), None))  # "util.h" is a file name, not two names
    return out


def _family(language: str) -> str:
    """Languages that import each other's files: JavaScript and TypeScript, C and C++."""
    return {"typescript": "javascript", "tsx": "javascript", "cpp": "c"}.get(language, language)
