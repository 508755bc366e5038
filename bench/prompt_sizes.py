"""How many tokens each part of the root model's first prompt costs, per prompt version and family.

    python -m bench.prompt_sizes [--repo PATH] [--question TEXT] [--model qwen2.5-coder-0.5b]

The first prompt is laid out from most to least shared (see engine/prompts/v2/messages.toml):
system prompt and example (the same for every question to one model), repository context (the
same for every question about one revision), then the question with its evidence block. A prefix
cache keeps the first two, so the last is what a new question pays for. Tokens are counted with
the embedded model's own tokenizer (its GGUF vocabulary, loaded without weights), chat-template
markers included, so the figures are what llama.cpp processes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from reporlm.app import engine_options
from reporlm.config import Settings
from reporlm.engine.budget import Budget
from reporlm.engine.prompting import PROMPT_VERSIONS
from reporlm.engine.rlm import Models, RLMRun, Runtime
from reporlm.engine.trace import Tracer
from reporlm.llm.base import Message
from reporlm.llm.scripted import ScriptedClient
from reporlm.workspace import Repo

DEFAULT_QUESTION = "Which function verifies the citations of an answer?"
FAMILIES = {"default": "claude-sonnet-4-6", "qwen": "qwen2.5-coder-0.5b"}


def first_prompt(repo: Repo, question: str, root_model: str, version: str, provider: str) -> list[Message]:
    """The first prompt a run would send, built by the engine itself (no model is called)."""
    client = ScriptedClient()
    models = Models(root=client, root_model=root_model, sub=client, sub_model=root_model)
    options = engine_options(Settings(prompt_version=version), provider)
    run = RLMRun(Runtime(models, options, Tracer()), repo, Budget(options.limits), question)
    messages, _ = run._first_messages()
    return messages


def parts(messages: Sequence[Message]) -> dict[str, list[Message]]:
    """The messages grouped as system, example, repository, question (v1 has no repository part)."""
    cached = [i for i, m in enumerate(messages) if m.cache]
    out: dict[str, list[Message]] = {"system": [messages[0]]}
    first_cache = cached[0] if cached else 0
    out["example"] = list(messages[1 : first_cache + 1]) if first_cache > 0 else []
    if len(cached) > 1:
        out["repository"] = list(messages[first_cache + 1 : cached[1] + 1])
        out["question"] = list(messages[cached[1] + 1 :])
    else:
        out["question"] = list(messages[first_cache + 1 :])
    return out


def qwen_counter(model: str) -> Callable[[Sequence[Message]], int]:
    """Tokens of messages in the Qwen chat template, with the model's own vocabulary."""
    import llama_cpp

    from reporlm.llm.weights import ensure_weights

    vocab = llama_cpp.Llama(model_path=str(ensure_weights(model)), vocab_only=True, verbose=False)

    def count(messages: Sequence[Message]) -> int:
        text = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
        return len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.prompt_sizes", description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=Path("."))
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="whose tokenizer counts")
    args = parser.parse_args(argv)
    count = qwen_counter(args.model)
    repo = Repo(args.repo)
    print(f"Tokens of the first prompt (tokenizer of {args.model}), question: {args.question!r}\n")
    print("| prompt | family | system | example | repository | question | total | shared |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    try:
        for version in PROMPT_VERSIONS:
            for family, model in FAMILIES.items():
                provider = "local" if family == "qwen" else "anthropic"
                grouped = parts(first_prompt(repo, args.question, model, version, provider))
                sizes = {name: count(messages) if messages else 0 for name, messages in grouped.items()}
                total = sum(sizes.values())
                shared = total - sizes["question"]
                print(
                    f"| {version} | {family} | {sizes['system']:,} | {sizes['example']:,} | "
                    f"{sizes.get('repository', 0):,} | {sizes['question']:,} | {total:,} | "
                    f"{shared / total:.0%} |"
                )
    finally:
        repo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
