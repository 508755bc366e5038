"""The evidence block: what the index knows about the names a question mentions, before turn one."""

from __future__ import annotations

from pathlib import Path

import pytest

from repo_builder import make_repo
from reporlm.engine.evidence import gather, mentions
from reporlm.workspace import Repo

FILES = {
    "src/shop/__init__.py": "from .pricing import apply_discount\n",
    "src/shop/pricing.py": (
        '"""Prices."""\n'
        "import os\n"
        "\n"
        "\n"
        "def apply_discount(price, rate):\n"
        '    """Take the discount rate off a price, never below zero."""\n'
        "    return max(0, price * (1 - rate))\n"
        "\n"
        "\n"
        "def currency():\n"
        "    return os.environ.get('SHOP_CURRENCY', 'EUR')\n"
    ),
    "src/shop/cart.py": (
        "from shop.pricing import apply_discount\n"
        "\n"
        "\n"
        "class Cart:\n"
        "    def total(self, items):\n"
        "        return sum(apply_discount(i.price, 0.1) for i in items)\n"
    ),
    "src/shop/errors.py": (
        "class ShopError(Exception):\n    pass\n\n\n"
        "class PaymentError(ShopError):\n    pass\n\n\n"
        "class CardDeclined(PaymentError):\n    pass\n"
    ),
    "tests/test_cart.py": (
        "from shop.pricing import apply_discount\n\n\n"
        "def test_discount():\n    assert apply_discount(10, 0.5) == 5\n"
    ),
}
HEAD = "What the index already knows:"


@pytest.fixture
def shop(tmp_path: Path) -> Repo:
    repo = Repo(make_repo(tmp_path / "shop", FILES), persist_index=False)
    yield repo
    repo.close()


def test_mentions_are_code_shaped_names_paths_and_quoted_text() -> None:
    question = "Who calls `Cart.total` or apply_discount in src/shop? And 'SHOP_CURRENCY'?"
    found = [m.text for m in mentions(question)]
    assert found == ["Cart.total", "SHOP_CURRENCY", "apply_discount", "src/shop"]
    assert mentions("Which function verifies the citations of an answer?") == []


def test_a_function_gets_its_definition_callers_and_importers(shop: Repo) -> None:
    block = gather(shop, "Which functions call `apply_discount`?", 400, head=HEAD)
    line = next(line for line in block.splitlines() if line.startswith("- `apply_discount`"))
    # Each fact is written as the call that finds it, so the model can run it for the whole list.
    assert 'repo.definitions("apply_discount") finds function at src/shop/pricing.py:5' in line
    callers = "src/shop/cart.py::Cart.total, tests/test_cart.py::test_discount"
    assert f'repo.callers("apply_discount") finds 2 callers: {callers}' in line
    assert 'repo.importers("apply_discount") finds 3 importing files' in line and "src/shop/cart.py" in line


def test_the_one_folder_a_question_names_scopes_the_calls_written_out(shop: Repo) -> None:
    block = gather(shop, "Under src/shop, which functions call apply_discount?", 400, head=HEAD)
    scoped = 'repo.callers("apply_discount", under="src/shop")'
    assert f"{scoped} finds 1 caller: src/shop/cart.py::Cart.total" in block
    assert "tests/test_cart.py::test_discount" not in block.split("(repo.search)")[0]
    assert 'repo.importers("apply_discount", under="src/shop") finds 2 importing files' in block


def test_a_class_gets_its_subclasses_transitively(shop: Repo) -> None:
    block = gather(shop, "List every subclass of `ShopError`.", 400, head=HEAD)
    assert "class at src/shop/errors.py:1" in block
    assert "2 subclasses" in block and "src/shop/errors.py::CardDeclined" in block


def test_a_name_without_a_definition_gets_where_it_is_mentioned(shop: Repo) -> None:
    block = gather(shop, "Which files read the environment variable `SHOP_CURRENCY`?", 400, head=HEAD)
    where = 'repo.grep("SHOP_CURRENCY") finds 1 line in 1 file: src/shop/pricing.py:11'
    assert f"- `SHOP_CURRENCY`: no definition; {where}" in block


def test_a_dotted_module_name_gets_its_file_and_importers(shop: Repo) -> None:
    block = gather(shop, "Which modules import `shop.pricing`?", 400, head=HEAD)
    importers = 'repo.importers("shop.pricing") finds 3 importing files'
    assert f"- `shop.pricing`: module src/shop/pricing.py; {importers}" in block


def test_words_without_names_get_the_best_matching_definitions(shop: Repo) -> None:
    block = gather(shop, "Which function takes the discount rate off a price?", 400, head=HEAD)
    assert block.startswith(HEAD)
    best = "src/shop/pricing.py::apply_discount (line 5)"
    assert f"best match the question's words (repo.search): {best}" in block


def test_the_block_keeps_to_its_budget_and_is_empty_when_nothing_is_known(shop: Repo) -> None:
    question = "Compare `apply_discount`, `currency`, `Cart`, `ShopError`, `PaymentError` and `CardDeclined`."
    small = gather(shop, question, 60, head=HEAD)
    assert len(small) < len(gather(shop, question, 2000, head=HEAD))
    assert len(small) * 2 // 7 <= 60 + 20
    assert gather(shop, "zzz qqq", 400, head=HEAD) == ""
    assert gather(shop, question, 0, head=HEAD) == ""


def test_a_name_beside_the_module_it_comes_from_is_looked_up_as_imported_from_it(shop: Repo) -> None:
    question = "Which modules import `apply_discount` directly from `shop.pricing`?"
    block = gather(shop, question, 400, head=HEAD)
    line = next(line for line in block.splitlines() if line.startswith("- `apply_discount`"))
    files = "src/shop/__init__.py, src/shop/cart.py, tests/test_cart.py"
    call = 'repo.importers("shop.pricing.apply_discount")'
    assert f"{call} finds 3 files importing it from shop.pricing: {files}" in line


def test_a_module_named_as_where_a_name_comes_from_gets_no_line_of_its_own(shop: Repo) -> None:
    block = gather(shop, "Which modules import `apply_discount` from `shop.pricing`?", 400, head=HEAD)
    assert "- `shop.pricing`" not in block
    call = 'repo.importers("shop.pricing.apply_discount")'
    assert f"{call} finds 3 files importing it from shop.pricing" in block


def test_calls_indexes_and_prose_in_backticks_are_cleaned_or_left_out() -> None:
    question = (
        "Which files read `no_proxy` (e.g. via `os.environ[...]`, `os.getenv(...)`, an `in os.environ` "
        "test)? ANSWER as a list; i.e. paths."
    )
    assert [m.text for m in mentions(question)] == ["no_proxy", "os.environ", "os.getenv"]


def test_a_backticked_name_defined_only_in_tests_also_gets_its_text_mentions(shop: Repo) -> None:
    block = gather(shop, "Where is `test_discount` used?", 400, head=HEAD)
    line = next(line for line in block.splitlines() if line.startswith("- `test_discount`"))
    assert 'repo.definitions("test_discount") finds function at tests/test_cart.py:4' in line
    assert line.endswith('repo.grep("test_discount") finds 1 line in 1 file: tests/test_cart.py:4')
    source = gather(shop, "Where is `currency` read?", 400, head=HEAD)
    assert "repo.grep" not in next(line for line in source.splitlines() if line.startswith("- `currency`"))


def test_a_bare_folder_name_in_backticks_is_the_folder_the_question_is_about(shop: Repo) -> None:
    block = gather(shop, "In the files under `tests`, which functions call `apply_discount`?", 400, head=HEAD)
    assert "`tests`" not in block  # a folder, not a name to grep for
    scoped = 'repo.callers("apply_discount", under="tests")'
    assert f"{scoped} finds 1 caller: tests/test_cart.py::test_discount" in block


def test_several_named_folders_focus_together_and_count_items_not_files(shop: Repo) -> None:
    question = "Under `tests` and `src/shop`, which classes inherit from `ShopError`?"
    block = gather(shop, question, 400, head=HEAD)
    # Both subclasses live in one file: the count under the folders is of classes.
    # The functions take one folder: with two, the call is the whole repository's, with the count inside.
    assert 'repo.subclasses("ShopError") finds 2 subclasses (2 under tests/, src/shop/)' in block
    callers = gather(shop, "Under `tests` and `src/shop`, who calls `apply_discount`?", 400, head=HEAD)
    assert 'repo.callers("apply_discount") finds 2 callers (2 under tests/, src/shop/)' in callers


def test_text_leads_without_a_definition_in_the_named_folder_and_others_names_are_left_out(
    tmp_path: Path,
) -> None:
    files = {
        "src/net/env.py": (
            "import os\n\n\ndef proxies():\n    return os.environ.get('no_proxy')\n\n\nproxies.cache = None\n"
        ),
        "tests/test_env.py": "class TestProxies:\n    def no_proxy(self):\n        pass\n",
    }
    repo = Repo(make_repo(tmp_path / "net", files), persist_index=False)
    try:
        question = "In `src/net`, which files read `no_proxy` via `os.environ`, or set `proxies.cache`?"
        block = gather(repo, question, 400, head=HEAD)
    finally:
        repo.close()
    line = next(line for line in block.splitlines() if line.startswith("- `no_proxy`"))
    # Defined only in tests, outside the folder asked about: where its text is in the folder leads.
    grep = 'repo.grep("no_proxy", under="src/net") finds 1 line in 1 file: src/net/env.py:5'
    assert line.startswith(f"- `no_proxy`: {grep}; repo.definitions(")
    cache = 'repo.grep(r"proxies\\.cache", under="src/net") finds 1 line in 1 file: src/net/env.py:8'
    assert f"- `proxies.cache`: no definition; {cache}" in block
    # Another package's name (the repository has no `os`) is no fact about this repository.
    assert "`os.environ`" not in block
