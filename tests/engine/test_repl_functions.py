"""The REPL's one table: generated from the methods, and every name the model is told about exists."""

from __future__ import annotations

import ast
import inspect
import re
from importlib import resources
from pathlib import Path

import reporlm
from reporlm.engine.options import EngineOptions
from reporlm.engine.repl_functions import describe, render_signature, sandbox_table
from reporlm.engine.rlm import FUNCTIONS, RLMRun
from reporlm.workspace import Repo

SERVER = Path(reporlm.__file__).parent
# `repo.x(`, `repo.git.x`, `llm_query(`, ...: a name the model could try to call.
_MENTION = re.compile(r"\b(repo\.(?:git\.)?[a-z_]+|llm_query_batched|llm_query|rlm_query)\b")
_NOT_FUNCTIONS = {"repo.git"}  # the namespace itself


def test_the_text_comes_from_the_methods_own_signature_and_docstring() -> None:
    grep = FUNCTIONS["repo.grep"]
    assert grep.signature == render_signature(Repo.grep)
    assert "max_results=200" in grep.signature and grep.signature.endswith("-> list[Hit]")
    assert grep.summary == " ".join(inspect.getdoc(Repo.grep).split("\n\n")[0].split())  # type: ignore[union-attr]
    assert FUNCTIONS["repo.git.head"].is_property and FUNCTIONS["repo.git.head"].signature == " -> Head"
    assert FUNCTIONS["llm_query"].is_async and not FUNCTIONS["repo.read"].is_async


def test_limits_quoted_in_docs_follow_the_options() -> None:
    text = describe(FUNCTIONS, EngineOptions(sub_prompt_chars=24_000).doc_values())
    help_text = sandbox_table(FUNCTIONS, EngineOptions(sub_prompt_chars=24_000).doc_values())["llm_query"]
    assert "24,000 characters" in help_text
    assert "${" not in text and "${" not in help_text
    assert text.rstrip().endswith("the variable `name`.")


def test_every_function_the_model_is_shown_can_be_called() -> None:
    for name, entry in FUNCTIONS.items():
        owner = {"repo": Repo, "run": RLMRun}.get(entry.owner)
        if owner is not None:
            assert callable(getattr(owner, entry.attribute)), name


def _string_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    constants = (node for node in ast.walk(tree) if isinstance(node, ast.Constant))
    return [node.value for node in constants if isinstance(node.value, str)]


def test_prompts_and_error_messages_name_only_functions_that_exist() -> None:
    texts: list[tuple[str, str]] = []
    prompts = resources.files("reporlm.engine") / "prompts"
    for version in prompts.iterdir():
        for file in version.iterdir():  # type: ignore[attr-defined]
            texts.append((f"prompts/{version.name}/{file.name}", file.read_text("utf-8")))
    for folder in ("workspace", "engine", "sandbox"):
        for path in sorted((SERVER / folder).glob("*.py")):
            texts += [(str(path.relative_to(SERVER)), s) for s in _string_constants(path)]
    unknown = {
        (where, name)
        for where, text in texts
        for name in _MENTION.findall(text)
        if name not in FUNCTIONS and name not in _NOT_FUNCTIONS
    }
    assert not unknown, f"names the model would be told about but cannot call: {sorted(unknown)}"


def test_every_record_a_function_returns_is_described() -> None:
    from reporlm.engine.repl_functions import record_names
    from reporlm.engine.rlm import RECORD_TYPES

    assert record_names(FUNCTIONS) <= {cls.__name__ for cls in RECORD_TYPES}
