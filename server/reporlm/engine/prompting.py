"""Loading the versioned prompt files (engine/prompts/<version>/) and filling them in.

Templates use `string.Template` with `substitute`, so a missing placeholder fails loudly instead of
sending the model a prompt with a hole in it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from string import Template

PROMPT_VERSION = "v2"
PROMPT_VERSIONS = ("v1", "v2")
"""Every version ships in engine/prompts/; the older ones stay selectable so runs can compare them."""
TASKS = ("plan", "explain")
"""Task templates every prompt version ships, as `<name>.md` next to its system prompt."""


@dataclass(frozen=True)
class PromptSet:
    version: str
    family: str
    """"default", or a model family with its own system prompt (e.g. "qwen" for small local models)."""
    _system: str
    _messages: dict[str, str]
    example: tuple[tuple[str, str], ...] = ()
    """(role, text) turns of a worked example, sent before the question (for families that need it)."""
    tasks: dict[str, str] = field(default_factory=dict)
    """Question templates for tasks other than a plain question ("plan", "explain"), by file stem."""

    def system(self, *, max_iterations: int, **listings: str) -> str:
        """The system prompt; `listings` fill ${functions}, ${functions_short}, ${records}."""
        return Template(self._system).substitute(max_iterations=max_iterations, **listings)

    def has(self, key: str) -> bool:
        return key in self._messages

    def message(self, key: str, /, **values: object) -> str:
        return Template(self._messages[key]).substitute({k: str(v) for k, v in values.items()})

    def task(self, name: str, /, **values: object) -> str:
        """The question text of a task (e.g. "plan"), filled in; the model gets it like a question."""
        return Template(self.tasks[name]).substitute({k: str(v) for k, v in values.items()})


def model_family(model: str) -> str:
    """Which system-prompt variant suits a model: small Qwen coders need the blunter one."""
    return "qwen" if "qwen" in model.lower() else "default"


@cache
def load_prompts(model: str, version: str = PROMPT_VERSION) -> PromptSet:
    if version not in PROMPT_VERSIONS:
        raise ValueError(f"unknown prompt version {version!r}; choose one of: {', '.join(PROMPT_VERSIONS)}")
    folder = resources.files("reporlm.engine") / "prompts" / version
    family = model_family(model)
    variant = folder / f"system.{family}.md"
    system = (variant if family != "default" and variant.is_file() else folder / "system.md").read_text(
        "utf-8"
    )
    messages = tomllib.loads((folder / "messages.toml").read_text("utf-8"))
    example_file = folder / f"example.{family}.toml"
    example: tuple[tuple[str, str], ...] = ()
    if example_file.is_file():
        turns = tomllib.loads(example_file.read_text("utf-8"))["turn"]
        example = tuple((t["role"], t["content"]) for t in turns)
    tasks = {name: (folder / f"{name}.md").read_text("utf-8") for name in TASKS}
    return PromptSet(version, family, system, messages, example, tasks)
