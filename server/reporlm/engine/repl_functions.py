"""The names the root model finds in its REPL, with the signature and text that document them.

One text serves three readers: the system prompt lists it, `help(name)` shows it inside the
sandbox, and the host dispatches calls by these names.
"""

from __future__ import annotations

from dataclasses import dataclass

from reporlm.sandbox.protocol import PROPERTY_MARK


@dataclass(frozen=True)
class ReplFunction:
    name: str
    signature: str
    doc: str
    is_property: bool = False
    """A value read without a call (`repo.git.head`): the sandbox exposes it as a property."""

    def describe(self) -> str:
        return f"- `{self.name}{self.signature}`: {self.doc}"


REPO_FUNCTIONS = (
    ReplFunction(
        "repo.files",
        '(pattern="**/*", under=None) -> list[str]',
        "repository-relative paths of the text files (git-tracked, not ignored), filtered by a glob.",
    ),
    ReplFunction(
        "repo.read",
        "(path, start=None, end=None) -> str",
        "a file's text, or lines start..end of it (1-based, inclusive); a file over 5 MB only by line range.",
    ),
    ReplFunction(
        "repo.grep",
        "(regex, glob=None, under=None, max_results=200) -> list[Hit]",
        "lines matching a regex (RE2 syntax: Python's minus lookarounds and backreferences; \\d \\w \\b are "
        "ASCII); each Hit has .path, .line, .text. Files over 5 MB are skipped unless under= names the file.",
    ),
    ReplFunction(
        "repo.tree",
        "(under=None, depth=2) -> str",
        "an overview of folders with file counts and sizes.",
    ),
    ReplFunction(
        "repo.symbols",
        "(path=None, name=None, kind=None, max_results=500) -> list[Symbol]",
        "definitions (tree-sitter) in a file or folder, by name ('parse', 'Parser.parse', 'test_*') or "
        "kind ('class', 'function', 'method'); Symbol has .name, .kind, .path, .line, .end_line, .parent.",
    ),
    ReplFunction(
        "repo.definitions",
        "(name) -> list[Symbol]",
        "where a name ('helper' or 'Class.method') is defined, source files before tests.",
    ),
    ReplFunction(
        "repo.references",
        "(name) -> list[Hit]",
        "lines that use a name: calls, imports, type uses, base classes (syntax-aware, unlike grep).",
    ),
    ReplFunction(
        "repo.outline",
        "(path) -> str",
        "one file's definitions with signatures and line numbers, nested: far shorter than reading it.",
    ),
    ReplFunction(
        "repo.git.log",
        "(path=None, n=20) -> list[Commit]",
        "recent commits, of a path if given (following renames); Commit has .sha, .author, .date, .subject.",
    ),
    ReplFunction(
        "repo.git.blame",
        "(path, start=None, end=None) -> list[BlameLine]",
        "who last changed lines start..end of a file; BlameLine has .line, .sha, .author, .date, .text.",
    ),
    ReplFunction(
        "repo.git.diff",
        "(base, head=None, path=None) -> str",
        "unified diff from revision base to head (None: the working tree), of one path if given.",
    ),
    ReplFunction(
        "repo.git.show",
        "(rev, path=None) -> str",
        "a file's text at a revision; without a path, the commit's message and changed files.",
    ),
    ReplFunction(
        "repo.git.status",
        "() -> list[Change]",
        "uncommitted changes of the working tree; Change has .path, .status ('modified', 'untracked', ...).",
    ),
    ReplFunction(
        "repo.git.head",
        " -> Head",
        "(a value, not a call) the checked-out commit: .sha, .branch (None if detached), .shallow, "
        ".subject, .date, .dirty (changed files).",
        is_property=True,
    ),
)

MODEL_FUNCTIONS = (
    ReplFunction(
        "llm_query",
        "(prompt) -> str",
        "ask a sub-model about text you put in the prompt; it sees nothing else (keep it under ~50k chars). "
        "Raises RuntimeError when the budget or the provider refuses.",
    ),
    ReplFunction(
        "llm_query_batched",
        "(prompts) -> list[str]",
        "many llm_query calls at once, run concurrently; answers come back in order. At most 1,000 "
        "prompts, and no more new ones than sub-calls left; raises RuntimeError like llm_query "
        "(answers received are cached).",
    ),
    ReplFunction(
        "rlm_query",
        "(question, scope=None) -> str",
        "a helper that explores the folder `scope` with its own REPL and returns its answer.",
    ),
)

ANSWER_FUNCTIONS = (
    ReplFunction("FINAL", "(text)", "end the session with this Markdown answer."),
    ReplFunction("FINAL_VAR", "(name)", "end the session with the text held in the variable `name`."),
)


def all_functions() -> tuple[ReplFunction, ...]:
    return REPO_FUNCTIONS + MODEL_FUNCTIONS


def describe_all() -> str:
    return "\n".join(f.describe() for f in (*all_functions(), *ANSWER_FUNCTIONS))


def sandbox_table() -> dict[str, str]:
    """Dotted name -> docstring, the form the sandbox exposes (FINAL/FINAL_VAR are the sandbox's own)."""
    return {
        f.name: (PROPERTY_MARK if f.is_property else "") + f"{f.name}{f.signature}\n\n{f.doc}"
        for f in all_functions()
    }
