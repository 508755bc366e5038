"""The names the root model finds in its REPL, with the signature and text that document them.

One text serves three readers: the system prompt lists it, `help(name)` shows it inside the
sandbox, and the host dispatches calls by these names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplFunction:
    name: str
    signature: str
    doc: str

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
        "a file's text, or lines start..end of it (1-based, inclusive).",
    ),
    ReplFunction(
        "repo.grep",
        "(regex, glob=None, under=None, max_results=200) -> list[Hit]",
        "lines matching a Python regex; each Hit has .path, .line, .text.",
    ),
    ReplFunction(
        "repo.tree",
        "(under=None, depth=2) -> str",
        "an overview of folders with file counts and sizes.",
    ),
)

MODEL_FUNCTIONS = (
    ReplFunction(
        "llm_query",
        "(prompt) -> str",
        "ask a sub-model about text you put in the prompt; it sees nothing else (keep it under ~50k chars).",
    ),
    ReplFunction(
        "llm_query_batched",
        "(prompts) -> list[str]",
        "many llm_query calls at once, run concurrently; answers come back in order.",
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
    return {f.name: f"{f.name}{f.signature}\n\n{f.doc}" for f in all_functions()}
