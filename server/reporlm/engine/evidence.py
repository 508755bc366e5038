"""What the index already knows about a question: the evidence block of the first message.

Before the root model's first turn the host resolves what the question names (identifiers, dotted
names, paths, quoted strings) with the repository's own code-intelligence functions and writes a
short block: where each name is defined, how many callers, subclasses and importers it has with the
first few, where a name without a definition is mentioned, and the definitions that best match the
question's words. Each fact is written as the call that finds it, scoped to the folder the
question names (`repo.callers("f", under="src") finds 2 callers: ...`), so a model can run it for
the whole list. It is metadata about the repository (places and names), never its text, and it
is cut to a token budget. Nothing here knows any question wording: it reads names, not intents.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from reporlm.workspace import Repo, WorkspaceError
from reporlm.workspace.repomap import is_peripheral

log = logging.getLogger(__name__)

MAX_MENTIONS = 8
"""Names resolved per question: a question that names more is rarely about all of them."""
SHOWN = 4
"""Items shown per list (callers, subclasses, ...); the count says how many there are."""
SEARCH_HITS = 5
GREP_LIMIT = 200
"""Lines a name's text is looked up on; more are counted as `200+`."""
Focus = tuple[str, ...]
"""The folders a question names (empty: none)."""
_VALUES = frozenset({"constant", "variable", "field"})

_BACKTICKED = re.compile(r"`([^`\n]{1,200})`")
_QUOTED = re.compile(r"""(?<![\w])["']([^"'\n]{2,120})["'](?![\w])""")
# Code-looking tokens in prose: dotted or scoped names, snake_case, CamelCase with an inner capital,
# and paths. Plain lowercase words are left to the search.
_TOKEN = re.compile(r"[A-Za-z_][\w$]*(?:(?:\.|::|/)[A-Za-z_][\w$-]*)+/?|[A-Za-z_][\w$]*")
_CODE_SHAPE = re.compile(r"_|[a-z][A-Z]|\w\w\.\w\w|::|/")
"""Snake case, camel case, dotted names and paths: what prose words are not (ALL CAPS words are)."""
_CALL_OR_INDEX = re.compile(r"(?:\([^()]*\)|\[[^\[\]]*\])+$")
_PROSE = re.compile(r"(?i)e\.g|i\.e|etc|vs|n/a|and/or")


@dataclass(frozen=True)
class Mention:
    text: str
    quoted: bool
    """Written in backticks or quotes: the asker meant this exact text."""


def mentions(question: str) -> list[Mention]:
    """The names, paths and strings a question mentions, most explicit first, without repeats."""
    found: dict[str, Mention] = {}

    def add(text: str, quoted: bool) -> None:
        # `os.getenv(...)`, `environ[...]`: the name called or indexed; prose in backticks is no name.
        text = _CALL_OR_INDEX.sub("", text.strip()).strip(".,;:!?")
        if len(text) >= 2 and " " not in text and text not in found and not _PROSE.fullmatch(text):
            found[text] = Mention(text, quoted)

    for match in _BACKTICKED.finditer(question):
        add(match.group(1), True)
    unquoted = _BACKTICKED.sub(" ", question)
    for match in _QUOTED.finditer(unquoted):
        if " " not in match.group(1).strip():
            add(match.group(1), True)
    for match in _TOKEN.finditer(unquoted):
        token = match.group(0)
        if _CODE_SHAPE.search(token.rstrip("./")):
            add(token, False)
    return list(found.values())[:MAX_MENTIONS]


def gather(repo: Repo, question: str, max_tokens: int, *, head: str) -> str:
    """The evidence block for `question` (empty when nothing is known), at most about `max_tokens`."""
    if max_tokens <= 0:
        return ""
    lines: list[str] = []
    named = mentions(question)
    folders = [m.text.rstrip("/") for m in named if _is_folder(repo, m.text)]
    focus = tuple(folders)
    # Modules the question names: a name it mentions beside one is looked up as imported from it.
    modules = {m.text: f for m in named if "." in m.text and (f := _module_file(repo, m.text)) is not None}
    # A module named as where a name comes from: the name's own line lists who imports it from
    # there, and a second list of the module's importers would offer the wrong call beside it.
    homes = {_home(repo, m, modules) for m in named} - {None}
    for mention in named:
        if mention.text.rstrip("/") in folders or mention.text in homes:
            continue
        try:
            line = _describe(repo, mention, focus, modules)
        except (WorkspaceError, ValueError, TypeError) as exc:
            log.debug("no evidence for %r: %s", mention.text, exc)
            line = None
        if line:
            lines.append(line)
    hits = _search_line(repo, question)
    if hits:
        lines.append(hits)
    return _fit(head, lines, max_tokens)


def _describe(repo: Repo, mention: Mention, focus: Focus, modules: dict[str, str]) -> str | None:
    text = mention.text
    if "/" in text or _looks_like_file(text):
        return _describe_path(repo, text)
    name = text.replace("::", ".")
    definitions = repo.definitions(name)
    module = _module_file(repo, name) if "." in name and not definitions else None
    if module is not None:
        facts = [f"module {module}"]
        facts += _listed(repo, "importers", name, focus, "importing file", "importing files")
        return f"- `{text}`: " + "; ".join(facts)
    if not definitions:
        if "." in name and not _is_ours(repo, name):
            return None  # `os.environ`: another package's name, not this repository's
        return _describe_mentions(repo, text, mention.quoted, focus)
    facts = [f"{_expression('definitions', name)} finds {_where(definitions)}"]
    kinds = {d.kind for d in definitions}
    if kinds & {"class", "interface", "struct", "trait"}:
        facts += _listed(repo, "subclasses", name, focus, "subclass", "subclasses")
    if kinds & {"function", "method"}:
        facts += _listed(repo, "callers", name, focus, "caller", "callers")
    elif "class" in kinds:  # a class's callers are what instantiates it: worth a line when there are some
        facts += _listed(repo, "callers", name, focus, "caller", "callers", skip_empty=True)
    home = _home(repo, mention, modules, definitions)
    if home is not None:
        what = f"importing it from {home}"
        facts += _listed(repo, "importers", f"{home}.{name}", focus, f"file {what}", f"files {what}")
    else:
        facts += _listed(repo, "importers", name, focus, "importing file", "importing files", skip_empty=True)
    if mention.quoted and all(is_peripheral(d.path) or d.kind in _VALUES for d in definitions):
        # Defined only in tests, or as a value: the name may be a string too (a setting, an
        # environment variable), so where its text appears; first when no definition is in the
        # folders the question names, as the text is then what the question is about.
        found = _text_mentions(repo, text, focus)
        if found and focus and not any(_inside(d.path, focus) for d in definitions):
            facts.insert(0, found)
        elif found:
            facts.append(found)
    return f"- `{text}`: " + "; ".join(facts)


def _home(
    repo: Repo, mention: Mention, modules: dict[str, str], definitions: Sequence[Any] | None = None
) -> str | None:
    """The module the question names that defines `mention` (`Align` beside `rich.align`), if any."""
    if not modules or "/" in mention.text or mention.text in modules:
        return None
    if definitions is None:
        try:
            definitions = repo.definitions(mention.text.replace("::", "."))
        except (WorkspaceError, ValueError):
            return None
    return next((m for m, file in modules.items() if any(d.path == file for d in definitions)), None)


def _is_ours(repo: Repo, dotted: str) -> bool:
    """Whether a dotted name starts with a module or definition of this repository (`os.environ`
    does not, unless the repository has an `os` module or defines `os`)."""
    head = dotted.split(".", 1)[0]
    return _module_file(repo, head) is not None or bool(repo.definitions(head))


def _where(definitions: Sequence[Any]) -> str:
    shown = ", ".join(f"{d.kind} at {d.path}:{d.line}" for d in definitions[:3])
    more = f" (and {len(definitions) - 3} more definitions)" if len(definitions) > 3 else ""
    return shown + more


def _describe_mentions(repo: Repo, text: str, quoted: bool, focus: Focus) -> str | None:
    """Where a name with no definition appears in the text (a setting, a variable, a key)."""
    if not quoted and not _CODE_SHAPE.search(text):
        return None
    found = _text_mentions(repo, text, focus)
    return f"- `{text}`: no definition; {found}" if found else None  # nothing at all: nothing to say


def _text_mentions(repo: Repo, text: str, focus: Focus) -> str | None:
    pattern = re.escape(text)
    under = _scope(focus)
    hits = repo.grep(pattern, under=under, max_results=GREP_LIMIT)
    if not hits:
        return None
    files = list(dict.fromkeys(h.path for h in hits))
    places = [f"{h.path}:{h.line}" for h in _focused(hits, focus)[:SHOWN]]
    count = f"{len(hits)}{'+' if len(hits) >= GREP_LIMIT else ''}"
    where = _focus_note(files, focus) if under is None else ""
    found = f"{_plural(count, 'line')} in {_plural(len(files), 'file')}"
    return f"{_expression('grep', pattern, under)} finds {found}{where}: {', '.join(places)}"


def _describe_path(repo: Repo, text: str) -> str | None:
    path = text.removeprefix("./").rstrip("/")
    files = repo.files(under=path) if _is_folder(repo, path) else []
    if files:
        return f"- `{text}`: folder with {len(files)} files"
    try:
        lines = repo.line_count(path)
    except WorkspaceError:
        return None
    definitions = repo.symbols(path=path, max_results=10_000)
    return f"- `{text}`: file, {lines} lines, {len(definitions)} definitions (repo.outline shows them)"


def _search_line(repo: Repo, question: str) -> str | None:
    search = getattr(repo, "search", None)
    if search is None:
        return None
    try:
        found = search(question, k=SEARCH_HITS)
    except (WorkspaceError, ValueError) as exc:
        log.debug("no search evidence: %s", exc)
        return None
    if not found:
        return None
    shown = ", ".join(f"{_label(s)} (line {s.line})" for s in found)
    return f"- definitions that best match the question's words (repo.search): {shown}"


def _listed(
    repo: Repo,
    function: str,
    argument: str,
    focus: Focus,
    singular: str,
    plural: str,
    *,
    skip_empty: bool = False,
) -> list[str]:
    """`repo.callers("f", under="src") finds 3 callers: a.py::g, b.py::h, …`, or nothing when the
    function is unavailable. The call is written out, scoped to the folder the question names, so
    the model can run it as it is to get the whole list."""
    under = _scope(focus)
    items = _call(repo, function, argument, under)
    if items is None or (skip_empty and not items):
        return []
    expression = _expression(function, argument, under)
    # One per label (a label holds its path), so the count under folders counts items, not files.
    unique = list({_label(item): item for item in _focused(items, focus)}.values())
    if not unique:
        return [f"{expression} finds no {plural}"]
    where = _focus_note([_path_of(item) for item in unique], focus) if under is None else ""
    shown = ", ".join(_label(item) for item in unique[:SHOWN]) + (", …" if len(unique) > SHOWN else "")
    count = f"1 {singular}" if len(unique) == 1 else f"{len(unique)} {plural}"
    return [f"{expression} finds {count}{where}: {shown}"]


def _expression(function: str, argument: str, under: str | None = None) -> str:
    """The call as the model would write it: `repo.callers("f", under="src")`."""
    scope = f", under={_literal(under)}" if under else ""
    return f"repo.{function}({_literal(argument)}{scope})"


def _literal(text: str) -> str:
    # A regular expression with escapes reads best raw; anything else as a plain string.
    if "\\" in text and '"' not in text and not text.endswith("\\"):
        return f'r"{text}"'
    return json.dumps(text, ensure_ascii=False)


def _scope(focus: Focus) -> str | None:
    """The folder to pass as `under=`: the one folder a question names (several: none, the
    functions take one)."""
    return focus[0] if len(focus) == 1 else None


def _plural(count: int | str, noun: str) -> str:
    return f"{count} {noun}" if str(count) == "1" else f"{count} {noun}s"


def _focused(items: Sequence[Any], focus: Focus) -> list[Any]:
    """Items in the folders the question names first (stable otherwise)."""
    if not focus:
        return list(items)
    return sorted(items, key=lambda item: not _inside(_path_of(item), focus))


def _inside(path: str, focus: Focus) -> bool:
    return any(path == folder or path.startswith(folder + "/") for folder in focus)


def _focus_note(paths: Iterable[str], focus: Focus) -> str:
    """` (2 under src/, tests/)` for the items (or files) in the folders the question names."""
    if not focus:
        return ""
    inside = sum(1 for p in paths if _inside(p, focus))
    return f" ({inside} under {', '.join(folder + '/' for folder in focus)})"


def _call(repo: Repo, function: str, name: str, under: str | None = None) -> list[Any] | None:
    method: Callable[..., list[Any]] | None = getattr(repo, function, None)
    if method is None:
        return None
    try:
        return list(method(name, under=under) if under else method(name))
    except (WorkspaceError, ValueError, TypeError) as exc:  # e.g. not supported for this language
        log.debug("%s(%r): %s", function, name, exc)
        return None


def _label(item: Any) -> str:
    if isinstance(item, str):
        return item
    qualified = getattr(item, "qualified", None)
    return f"{item.path}::{qualified}" if qualified else str(getattr(item, "path", item))


def _path_of(item: Any) -> str:
    return item if isinstance(item, str) else str(getattr(item, "path", ""))


def _module_file(repo: Repo, dotted: str) -> str | None:
    """The file of a dotted module name (`pkg.mod` -> `src/pkg/mod.py`), if the repository has one."""
    tail = dotted.replace(".", "/")
    for candidate in (f"{tail}.py", f"{tail}/__init__.py"):
        matches = [p for p in repo.files(f"**/{candidate}") if p == candidate or p.endswith("/" + candidate)]
        if matches:
            return min(matches, key=len)
    return None


def _looks_like_file(text: str) -> bool:
    stem, dot, extension = text.rpartition(".")
    return bool(dot and stem and extension in {"py", "pyi", "js", "ts", "go", "rs", "java", "toml", "cfg"})


def _is_folder(repo: Repo, text: str) -> bool:
    """Whether the text names a folder of the repository (`src/app`, `app/`, or a bare `app`)."""
    path = text.removeprefix("./").rstrip("/")
    if not path or ("." in path.rsplit("/", 1)[-1] and "/" not in text):
        return False  # `pkg.mod` or `file.py`: a module or a file, not a folder
    try:
        files = repo.files(under=path)
        return bool(files) and path not in files
    except WorkspaceError:
        return False


def _fit(head: str, lines: list[str], max_tokens: int) -> str:
    if not lines:
        return ""
    out = [head]
    used = _tokens(head)
    for line in lines:
        cost = _tokens(line)
        if used + cost > max_tokens:
            if used + 12 <= max_tokens:
                out.append("- … (more left out; ask the functions directly)")
            break
        out.append(line)
        used += cost
    return "\n".join(out) + "\n\n" if len(out) > 1 else ""


def _tokens(text: str) -> int:
    # About 3.5 characters a token for code and English: a safe side estimate without a tokenizer.
    return len(text) * 2 // 7 + 1
