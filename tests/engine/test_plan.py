"""Parsing a plan's Markdown into steps and risks, and checking every place it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from reporlm.engine.citations import Reference, looks_like_path, verify_references
from reporlm.engine.plan import parse_plan
from reporlm.workspace import Repo


@pytest.fixture
def repo(small_repo: Path) -> Repo:
    return Repo(small_repo)


def found(refs: list[Reference]) -> list[tuple[str, str, str | None, int | None]]:
    return [(r.kind, r.text, r.path, r.start) for r in refs if r.verified]


def missing(refs: list[Reference]) -> list[tuple[str, str]]:
    return [(r.text, r.reason) for r in refs if not r.verified]


def test_steps_as_headings_with_touches_lines_and_risks(repo: Repo) -> None:
    plan = parse_plan(
        """# Plan: retries from settings

Move the constant into settings.

## Steps

### 1. Add the setting
Touches: `shop/retry.py:3` (`MAX_RETRIES`), `shop/settings.py` (`Settings.retries`)

### 2. Use it
Change `place` in `shop/orders.py`.
Touches: `shop/orders.py` (`place`)

## Risks
- **Explicit callers**: `shop/orders.py:5` passes retries itself.
- Tests: none found.
""",
        repo,
    )
    assert plan.title == "retries from settings" and plan.summary == "Move the constant into settings."
    assert [s.title for s in plan.steps] == ["Add the setting", "Use it"]
    first, second = plan.steps
    assert found(first.references) == [
        ("lines", "shop/retry.py:3", "shop/retry.py", 3),
        ("symbol", "MAX_RETRIES", "shop/retry.py", 3),
    ]
    assert missing(first.references) == [
        ("shop/settings.py", "no such file: shop/settings.py"),
        ("Settings.retries", "no definition of retries found"),
    ]
    # `place` in the prose is not a symbol check; on the Touches line it is.
    assert found(second.references) == [
        ("file", "shop/orders.py", "shop/orders.py", 1),
        ("symbol", "place", "shop/orders.py", 4),
    ]
    assert [r.title for r in plan.risks] == ["Explicit callers", "Tests"]
    assert found(plan.risks[0].references) == [("lines", "shop/orders.py:5", "shop/orders.py", 5)]
    assert [r.text for r in plan.unverified] == ["shop/settings.py", "Settings.retries"]


def test_steps_as_a_numbered_list_and_step_headings(repo: Repo) -> None:
    text = "Plan:\n\n1. **First**: edit `shop/retry.py:6`.\n   More about it.\n"
    text += "2. Second thing. See docs/guide.md:1"
    listed = parse_plan(text, repo)
    assert [(s.title, s.detail) for s in listed.steps] == [
        ("First", "edit `shop/retry.py:6`.\nMore about it."),
        ("Second thing", "Second thing. See docs/guide.md:1"),
    ]
    assert found(listed.steps[1].references) == [("lines", "docs/guide.md:1", "docs/guide.md", 1)]

    headed = parse_plan("## Step 1: Read\nx\n## Step 2 - Write\ny\n## Notes\nnot a step\n", repo)
    assert [(s.title, s.detail) for s in headed.steps] == [("Read", "x"), ("Write", "y")]


def test_a_plan_that_cannot_be_split_is_one_step(repo: Repo) -> None:
    plan = parse_plan("Just change shop/retry.py:3 to read an environment variable.", repo)
    assert [s.title for s in plan.steps] == ["Plan"]
    assert found(plan.steps[0].references) == [("lines", "shop/retry.py:3", "shop/retry.py", 3)]
    assert parse_plan("", repo).steps == []


def test_owner_dot_member_prefers_the_owners_file(tmp_path: Path) -> None:
    files = {
        "a.py": "def save():\n    pass\n",
        "b.py": "class Store:\n    def save(self):\n        pass\n",
        "c.go": "package c\n\nfunc (s *Server) Start() error {\n\treturn nil\n}\n\ntype Server struct{}",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    refs = verify_references("Touches: `Store.save`, `Server.Start`, `Nope.save`", Repo(tmp_path))
    assert found(refs) == [("symbol", "Store.save", "b.py", 2), ("symbol", "Server.Start", "c.go", 3)]
    assert missing(refs) == [("Nope.save", "no definition of Nope found")]


@pytest.mark.parametrize(
    ("token", "is_path"),
    [
        ("src/app.py", True),
        ("setup.cfg", True),
        ("docs/", True),
        ("Session.ask", False),
        ("os.path", False),
        ("x = 1", False),
        ("--verbose", False),
        ("https://example.com/a.py", False),
    ],
)
def test_what_counts_as_a_path(token: str, is_path: bool) -> None:
    assert looks_like_path(token) is is_path


def test_folders_are_checked_too(repo: Repo) -> None:
    refs = verify_references("Look in `shop/` and `nowhere/`.", repo)
    assert found(refs) == [("file", "shop/", "shop", None)]
    assert [text for text, _ in missing(refs)] == ["nowhere/"]
