"""The names the root model finds in its REPL: one table, generated from the functions themselves.

Each entry is a real method (of `Repo`, of `GitHistory`, or of the run for the model calls), and
what the model reads about it is made from that method's own signature and docstring: the first
paragraph goes into the system prompt, the whole docstring is what `help(name)` shows in the
sandbox. So a new REPL function is one method with a docstring written for the model, plus its name
in one of the tuples below; the host dispatches calls through the same table.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from string import Template
from typing import Any

from reporlm.sandbox.protocol import PROPERTY_MARK

REPO_API = (
    # Code intelligence first: small models use what they see first.
    "definitions",
    "callers",
    "subclasses",
    "importers",
    "references",
    "search",
    "symbol_at",
    "outline",
    "symbols",
    "read",
    "grep",
    "files",
    "tree",
)
"""`Repo` methods the model calls as `repo.<name>`, in the order the prompt lists them."""
GIT_API = ("log", "blame", "diff", "show", "status", "head")
"""`GitHistory` members the model uses as `repo.git.<name>` (`head` is a property, read as a value)."""
MODEL_API = ("llm_query", "llm_query_batched", "rlm_query")
"""Methods of the run the model calls by their bare names."""
SHORT_LIST = (
    "repo.definitions",
    "repo.callers",
    "repo.subclasses",
    "repo.importers",
    "repo.search",
    "repo.read",
    "repo.grep",
)
"""What the short listing for small models describes one line each; the rest it only names."""


@dataclass(frozen=True)
class ReplFunction:
    name: str
    """Dotted, as the model writes it: `repo.grep`, `repo.git.head`, `llm_query`."""
    owner: str
    """Where the host finds it: "repo" (a Repo method), "git" (repo.git's), or "run" (the run's)."""
    attribute: str
    """The method's (or property's) name on its owner."""
    signature: str
    doc: str
    is_property: bool = False
    is_async: bool = False

    @property
    def summary(self) -> str:
        """The docstring's first paragraph on one line: what the system prompt shows."""
        first = self.doc.split("\n\n", 1)[0]
        return " ".join(first.split())

    @property
    def brief(self) -> str:
        """The summary's first clause (before an example or a second sentence): for short lists."""
        return re.split(r": `|\. |; |: \[|: \(", self.summary, maxsplit=1)[0].rstrip(".")

    def describe(self, values: Mapping[str, object] | None = None) -> str:
        return f"- `{self.name}{self.signature}`: {fill(self.summary, values)}"


def fill(text: str, values: Mapping[str, object] | None) -> str:
    """A docstring with its ${placeholders} (limits that depend on options) filled in."""
    return Template(text).safe_substitute({k: str(v) for k, v in (values or {}).items()})


def build_table(repo_cls: type, git_cls: type, run_cls: type) -> dict[str, ReplFunction]:
    """Every REPL function by dotted name, documented from the classes' own members."""
    table: dict[str, ReplFunction] = {}
    for owner, cls, prefix, names in (
        ("repo", repo_cls, "repo.", REPO_API),
        ("git", git_cls, "repo.git.", GIT_API),
        ("run", run_cls, "", MODEL_API),
    ):
        for attribute in names:
            member = inspect.getattr_static(cls, attribute)
            table[prefix + attribute] = _entry(prefix + attribute, owner, attribute, member)
    return table


def _entry(name: str, owner: str, attribute: str, member: Any) -> ReplFunction:
    if isinstance(member, property):
        getter = member.fget
        assert getter is not None, f"{name} is a property without a getter"
        returns = inspect.signature(getter).return_annotation
        return ReplFunction(
            name, owner, attribute, f" -> {_annotation(returns)}", _doc(getter, name), is_property=True
        )
    function = member.__func__ if isinstance(member, staticmethod | classmethod) else member
    if not callable(function):
        raise TypeError(f"{name} is not a function")
    return ReplFunction(
        name,
        owner,
        attribute,
        render_signature(function),
        _doc(function, name),
        is_async=inspect.iscoroutinefunction(function),
    )


def _doc(function: Callable[..., Any], name: str) -> str:
    doc = inspect.getdoc(function)
    if not doc:
        raise ValueError(f"{name} has no docstring: the model would not know what it does")
    return doc


def render_signature(function: Callable[..., Any]) -> str:
    """`(regex, glob=None, max_results=200) -> list[Hit]`: what the model calls, without `self`."""
    signature = inspect.signature(function)
    parts = []
    for parameter in list(signature.parameters.values())[1:]:  # drop self
        if parameter.kind is parameter.VAR_POSITIONAL:
            parts.append(f"*{parameter.name}")
        elif parameter.kind is parameter.VAR_KEYWORD:
            parts.append(f"**{parameter.name}")
        elif parameter.default is parameter.empty:
            parts.append(parameter.name)
        else:
            parts.append(f"{parameter.name}={parameter.default!r}")
    returns = signature.return_annotation
    tail = "" if returns is signature.empty else f" -> {_annotation(returns)}"
    return f"({', '.join(parts)}){tail}"


def _annotation(value: object) -> str:
    text = value if isinstance(value, str) else getattr(value, "__name__", str(value))
    # Our own module paths mean nothing to the model.
    return re.sub(r"\b(?:[a-z_]+\.)+(?=[A-Z])", "", str(text))


def describe(table: Mapping[str, ReplFunction], values: Mapping[str, object] | None = None) -> str:
    """The function list of the system prompt, one line each, with FINAL and FINAL_VAR last."""
    lines = [entry.describe(values) for entry in table.values()]
    lines += [
        "- `FINAL(text)`: end the session with this Markdown answer.",
        "- `FINAL_VAR(name)`: end the session with the text held in the variable `name`.",
    ]
    return "\n".join(lines)


def describe_short(table: Mapping[str, ReplFunction], values: Mapping[str, object] | None = None) -> str:
    """A shorter list for small models: the main functions one line each (no `max_results` knobs,
    no return types: the worked examples show the records in use), the rest only named
    (`help(name)` in the REPL explains any of them)."""
    lines = []
    others: list[str] = []
    for name, entry in table.items():
        if name in SHORT_LIST:
            signature = re.sub(r",? ?max_results=\d+", "", entry.signature).replace("(, ", "(")
            signature = signature.split(" -> ", 1)[0]
            lines.append(f"- `{name}{signature}`: {fill(entry.brief, values)}")
        elif entry.owner == "git":
            history = name.removeprefix("repo.git.")
            if others and others[-1].startswith("repo.git."):
                others[-1] += "/" + history
            else:
                others.append(name)
        else:
            others.append(name)
    if others:
        lines.append(f"Also: {', '.join(others)}. `help(name)` explains any of them.")
    return "\n".join(lines)


def describe_records(classes: Sequence[type]) -> str:
    """`Symbol(name, kind, path, line, ...)` for each record the functions return: what `.x` exists.

    A record that extends another listed one shows only what it adds: `Caller(Symbol + calls)`.
    """
    parts = []
    for cls in classes:
        base = next((b for b in cls.__mro__[1:] if b in classes), None)
        names = _attributes(cls)
        if base is not None:
            added = [n for n in names if n not in _attributes(base)]
            parts.append(f"{cls.__name__}({base.__name__} + {', '.join(added)})")
        else:
            parts.append(f"{cls.__name__}({', '.join(names)})")
    return "Records print as `path:line ...`; their attributes: " + "; ".join(parts) + "."


def _attributes(cls: type) -> list[str]:
    computed = [
        name
        for klass in reversed(cls.__mro__)
        for name, member in vars(klass).items()
        if isinstance(member, property) and not name.startswith("_")
    ]
    return [f.name for f in dataclasses.fields(cls)] + list(dict.fromkeys(computed))


def record_names(table: Mapping[str, ReplFunction]) -> set[str]:
    """Capitalised names in the functions' return types: the records the model may get back."""
    returns = (entry.signature.rpartition("->")[2] for entry in table.values())
    return {name for text in returns for name in re.findall(r"\b[A-Z]\w+", text)} - {"None"}


def sandbox_table(
    table: Mapping[str, ReplFunction], values: Mapping[str, object] | None = None
) -> dict[str, str]:
    """Dotted name -> the text `help()` shows in the sandbox (FINAL/FINAL_VAR are the sandbox's own)."""
    return {
        name: (PROPERTY_MARK if entry.is_property else "")
        + f"{name}{entry.signature}\n\n{fill(entry.doc, values)}"
        for name, entry in table.items()
    }
