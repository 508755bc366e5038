"""Finding what to explain at a position, and the question asked about it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reporlm.engine.explain import NothingToExplain, explain_question, target_at
from reporlm.engine.prompting import load_prompts
from reporlm.workspace import Repo


def test_identifier_at_the_column_with_its_qualifier_and_enclosing_definition(small_repo: Path) -> None:
    repo = Repo(small_repo)
    # "    return with_retries(lambda: order.submit(), retries=5)"
    target = target_at(repo, "shop/orders.py", 5, 15)
    assert (target.symbol, target.enclosing) == ("with_retries", "`place` (shop/orders.py:4)")
    assert target.line_text == "return with_retries(lambda: order.submit(), retries=5)"
    assert target_at(repo, "shop/orders.py", 5, 39).symbol == "order.submit"
    # On a keyword or blank space: the definition around it.
    assert target_at(repo, "shop/orders.py", 5, 6).symbol == "place"
    assert target_at(repo, "shop/retry.py", 6, 1).symbol == "with_retries"


def test_unsaved_text_is_what_gets_explained(small_repo: Path) -> None:
    overlay = {"shop/orders.py": "def place(order):\n    return self.submit_now(order)\n"}
    target = target_at(Repo(small_repo, overlay=overlay), "shop/orders.py", 2, 20)
    assert target.symbol == "submit_now" and target.enclosing == "`place` (shop/orders.py:1)"


def test_nothing_there(small_repo: Path) -> None:
    with pytest.raises(NothingToExplain, match=r"no symbol at shop/retry\.py:2:1"):
        target_at(Repo(small_repo), "shop/retry.py", 2, 0)
    with pytest.raises(NothingToExplain, match=r"has 12 lines; there is no line 99"):
        target_at(Repo(small_repo), "shop/retry.py", 99, 0)


def test_the_question_names_the_symbol_and_the_place(small_repo: Path) -> None:
    target = target_at(Repo(small_repo), "shop/orders.py", 5, 15)
    question = explain_question(load_prompts("any-model"), target)
    assert question.startswith(
        "Explain `with_retries`, as it appears at `shop/orders.py:5`, inside `place` (shop/orders.py:4)."
    )
    assert "return with_retries(lambda: order.submit(), retries=5)" in question
