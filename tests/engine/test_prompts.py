"""The first prompt's layout per prompt version and family, and eliding old outputs to fit a window."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from repo_builder import make_repo
from reporlm.engine.budget import Limits
from reporlm.engine.evidence import gather
from reporlm.engine.options import EngineOptions
from reporlm.engine.prompting import PROMPT_VERSIONS, load_prompts
from reporlm.engine.rlm import Models
from reporlm.engine.session import Session
from reporlm.llm.scripted import ScriptedClient
from reporlm.sandbox import SandboxLimits
from reporlm.workspace import Repo


def repl(code: str) -> str:
    return f"```repl\n{code}\n```"


def session(repo: Path, root: ScriptedClient, model: str, **options: object) -> Session:
    models = Models(root=root, root_model=model, sub=root, sub_model=model)
    opts = EngineOptions(sandbox=SandboxLimits(wall_seconds=5, cpu_seconds=5), require_evidence=False)
    return Session(Repo(repo), models, replace(opts, **options))  # type: ignore[arg-type]


async def test_v2_sends_system_then_repository_context_then_evidence_and_question(small_repo: Path) -> None:
    root = ScriptedClient(["FINAL(done)"])
    async with session(small_repo, root, "some-hosted-model") as s:
        await s.ask("Who calls `with_retries`?")
    system, context, question = root.calls[0].messages
    assert [m.role for m in (system, context, question)] == ["system", "user", "user"]
    assert [m.cache for m in (system, context, question)] == [True, True, False]
    assert "`repo.callers(name, under=None, max_results=200) -> list[Caller]`" in system.content
    assert "Caller(Symbol + calls)" in system.content
    # The repository context is the same for every question: no question text, no personalization.
    assert context.content.startswith("Repository: shop-repo. You have at most 30 turns.\n5 files")
    assert "with_retries" in context.content
    assert "Who calls" not in context.content
    assert question.content.startswith("What the index already knows")
    known = (
        '- `with_retries`: repo.definitions("with_retries") finds function at shop/retry.py:6; '
        'repo.callers("with_retries") finds 1 caller: shop/orders.py::place'
    )
    assert known in question.content
    assert question.content.endswith("Question: Who calls `with_retries`?")


async def test_the_repository_context_is_identical_across_questions(small_repo: Path) -> None:
    root = ScriptedClient(["FINAL(a)", "FINAL(b)"])
    async with session(small_repo, root, "some-hosted-model") as s:
        await s.ask("Where is `MAX_RETRIES` set?")
        await s.ask("Who calls place?")
    first, second = root.calls[0].messages, root.calls[1].messages
    assert first[:2] == second[:2], "a prefix cache can keep system prompt and repository context"
    assert first[2] != second[2]


async def test_small_models_get_the_short_prompt_and_a_worked_example(small_repo: Path) -> None:
    root = ScriptedClient(["FINAL(done)"])
    async with session(small_repo, root, "qwen2.5-coder-0.5b") as s:
        await s.ask("Who calls `with_retries`?")
    messages = root.calls[0].messages
    example = load_prompts("qwen2.5-coder-0.5b").example
    assert len(messages) == 1 + len(example) + 2
    system = messages[0].content
    assert "- `repo.callers(name, under=None)`: The definitions whose code calls `name`" in system
    assert "max_results" not in system.split("Also:")[0]
    assert "Also: repo.references, repo.symbol_at" in system
    # The example ends the model-wide prefix (the cache mark), then the repository, then the question.
    assert [m.cache for m in messages] == [False] * len(example) + [True, True, False]
    assert 'FINAL_VAR("answer")' in messages[len(example)].content
    assert messages[-1].content.endswith("Question: Who calls `with_retries`?")


async def test_another_turn_budget_keeps_the_system_prompt_and_examples(small_repo: Path) -> None:
    prompts = []
    for turns in (6, 30):
        root = ScriptedClient(["FINAL(done)"])
        limits = Limits(max_iterations=turns)
        brief = {"folders_only": True, "map_tokens": 0}  # as the embedded model gets them (app.py)
        async with session(small_repo, root, "qwen2.5-coder-0.5b", limits=limits, **brief) as s:
            await s.ask("Who calls `with_retries`?")
        prompts.append(root.calls[0].messages)
    cached = len(load_prompts("qwen2.5-coder-0.5b").example) + 1
    assert prompts[0][:cached] == prompts[1][:cached], "the model-wide prefix does not depend on the budget"
    budgets = [messages[cached].content for messages in prompts]
    assert "at most 6 turns" in budgets[0] and "at most 30 turns" in budgets[1]
    # The short repository context: folders only, no map.
    context = prompts[0][cached].content
    assert "  shop/  (" in context and ".py" not in context and "Repository map" not in context


async def test_v1_stays_selectable_with_its_one_question_message(small_repo: Path) -> None:
    root = ScriptedClient(["FINAL(done)"])
    async with session(small_repo, root, "some-hosted-model", prompt_version="v1") as s:
        await s.ask("Who calls with_retries?")
    _, question = root.calls[0].messages
    assert "What the index already knows" not in question.content
    assert question.content.startswith("Repository: shop-repo") and "Question: Who calls" in question.content


def test_every_version_ships_the_same_messages_and_tasks() -> None:
    keys = {v: set(load_prompts("m", v)._messages) for v in PROMPT_VERSIONS}
    shared = {"output", "no_code", "repeated_code", "look_first", "bad_citations", "unseen_citations"}
    for version, names in keys.items():
        assert shared <= names, version
        assert set(load_prompts("m", version).tasks) == {"plan", "explain"}
    with pytest.raises(ValueError, match="unknown prompt version"):
        load_prompts("m", "v0")


async def test_old_outputs_are_elided_to_fit_the_window_not_the_first_prompt(small_repo: Path) -> None:
    big = repl("print('x' * 3000)")
    root = ScriptedClient([big, repl("print('y' * 3000)"), repl("print('z' * 3000)"), "FINAL(done)"])
    async with session(small_repo, root, "some-hosted-model", context_tokens=4000, root_max_tokens=500) as s:
        await s.ask("q")
    last = root.calls[-1].messages
    first = root.calls[0].messages
    assert last[:3] == first, "system prompt, repository context and question are never elided"
    elided = [m for m in last if m.content.startswith("[elided")]
    assert elided, "an old output made room"
    assert "z" * 100 in last[-1].content, "the newest output is kept"


STORE = {
    # The example repository the worked examples talk about, so their code can be run as written.
    "store/__init__.py": "",
    "store/cart.py": "\n" * 7 + "class Cart:\n    pass\n",
    "store/gift.py": (
        "from store.cart import Cart\n\n\nclass GiftCart(Cart):\n    pass\n\n\n"
        "class PromoCart(GiftCart):\n    pass\n"
    ),
    "store/config.py": "import os\n" + "\n" * 10 + "CURRENCY = os.environ.get('STORE_CURRENCY', 'EUR')\n",
    "store/money.py": (
        '"""Money."""\n\ndef round_cents(amount):\n    """Round an amount to whole cents."""\n'
        "    return round(amount, 2)\n\n\n\n\nclass Money:\n    pass\n"
    ),
    "store/checkout.py": (
        "from store.money import round_cents\n\n\n"
        "def total(prices):\n    return round_cents(sum(prices))\n\n\n"
        "class Receipt:\n    def line(self, price):\n        return round_cents(price)\n"
    ),
    "docs/setup.md": "Set STORE_CURRENCY to change the currency.\n",
    "tests/test_cart.py": "from store.cart import Cart\n\n\nclass FakeCart(Cart):\n    pass\n",
}


@pytest.mark.parametrize("turn", range(0, len(load_prompts("qwen2.5-coder-0.5b").example), 2))
async def test_every_worked_example_runs_as_written_and_builds_its_answer(tmp_path: Path, turn: int) -> None:
    example = load_prompts("qwen2.5-coder-0.5b").example
    (_, asked), (role, code) = example[turn], example[turn + 1]
    question = asked.split("Question: ", 1)[1]
    root = ScriptedClient([code])
    async with session(make_repo(tmp_path / "store", STORE), root, "some-hosted-model") as s:
        result = await s.ask(question)
    expected = {
        "Money": "store/money.py:10",
        "round_cents": "store/checkout.py::total\nstore/checkout.py::Receipt.line",
        "Cart": "store/gift.py::GiftCart\nstore/gift.py::PromoCart",
        "STORE_CURRENCY": "store/config.py",
        "rounds": "store/money.py::round_cents",
    }
    assert role == "assistant" and not result.partial, result.answer
    assert result.answer == next(answer for key, answer in expected.items() if key in question)


@pytest.mark.parametrize("turn", range(0, len(load_prompts("qwen2.5-coder-0.5b").example), 2))
def test_every_worked_example_shows_evidence_the_engine_writes(tmp_path: Path, turn: int) -> None:
    """Each fact of an example's evidence is one the engine writes for the example repository, so
    the model learns the real format (an example may leave facts out, and search hits after the first)."""
    asked = load_prompts("qwen2.5-coder-0.5b").example[turn][1]
    evidence, question = asked.split("\n\nQuestion: ", 1)
    repo = Repo(make_repo(tmp_path / "store", STORE), persist_index=False)
    try:
        real = gather(repo, question, 2000, head="What the index already knows:")
    finally:
        repo.close()
    real_lines = real.splitlines()
    for line in evidence.splitlines()[1:]:
        subject, _, facts = line.partition(": ")
        real_line = next((r for r in real_lines if r.startswith(subject + ": ")), None)
        assert real_line is not None, f"the engine writes no {subject!r} line for {question!r}:\n{real}"
        real_facts = real_line.partition(": ")[2]
        if "(repo.search)" in subject:
            assert real_facts.startswith(facts), real_line
        else:
            for fact in facts.split("; "):
                assert fact in real_facts.split("; "), f"{fact!r} is not in {real_line!r}"
