"""The symbol and git functions reach the model's REPL: nested names, a property, readable errors."""

from __future__ import annotations

from pathlib import Path

from reporlm.engine.options import EngineOptions
from reporlm.engine.repl_functions import sandbox_table
from reporlm.engine.rlm import FUNCTIONS, Models
from reporlm.engine.session import Session
from reporlm.llm.scripted import ScriptedClient
from reporlm.sandbox import SandboxLimits
from reporlm.workspace import Repo

CODE = """\
print([(s.path, s.line, s.kind) for s in repo.definitions('with_retries')])
print(repo.definitions('with_retries'), repo.definitions('with_retries')[0].qualified)
print(repo.grep('MAX_RETRIES =')[0])
print([(h.path, h.line) for h in repo.references('with_retries')])
print(repo.outline('shop/retry.py').splitlines()[1:])
print([s.name for s in repo.symbols(path='shop', kind='function')])
head = repo.git.head
print(head.branch, head.detached, len(head.sha), head.dirty)
print([c.subject for c in repo.git.log(n=5)])
print(repo.git.show('HEAD', 'shop/retry.py').splitlines()[2])
try:
    repo.git.show('--output=/tmp/pwned')
except ValueError as exc:
    print('refused:', exc)
try:
    repo.git.head()
except TypeError as exc:
    print('not callable:', type(exc).__name__)
"""


async def test_symbols_and_git_from_the_repl(small_repo: Path) -> None:
    root = ScriptedClient([f"```repl\n{CODE}\n```", "FINAL(done)"])
    models = Models(root=root, root_model="root", sub=root, sub_model="sub")
    options = EngineOptions(sandbox=SandboxLimits(wall_seconds=20, cpu_seconds=20), require_evidence=False)
    async with Session(Repo(small_repo), models, options) as session:
        result = await session.ask("Where is with_retries defined?")
    assert result.answer == "done"
    output = root.calls[1].messages[-1].content
    assert "[('shop/retry.py', 6, 'function')]" in output
    # Records print as the host's own text for them, and computed attributes come along.
    assert "[shop/retry.py:6-12 function with_retries] with_retries" in output
    assert "shop/retry.py:3: MAX_RETRIES = 3" in output
    assert "[('shop/orders.py', 1), ('shop/orders.py', 5)]" in output
    assert "['    3  MAX_RETRIES = 3', '    6  def with_retries(fn, retries=MAX_RETRIES):']" in output
    assert "['place', 'with_retries']" in output
    assert "master False 40 []" in output or "main False 40 []" in output
    assert "['init']" in output
    assert "MAX_RETRIES = 3" in output
    assert "refused: not a revision: '--output=/tmp/pwned'" in output
    assert "not callable: TypeError" in output
    assert not Path("/tmp/pwned").exists()


def test_every_repo_function_is_in_the_sandbox_table_with_its_doc() -> None:
    table = sandbox_table(FUNCTIONS)
    names = set(FUNCTIONS)
    assert {"repo.symbols", "repo.definitions", "repo.references", "repo.outline"} <= names
    assert {"repo.callers", "repo.subclasses", "repo.importers", "repo.search", "repo.symbol_at"} <= names
    assert {"repo.git.log", "repo.git.blame", "repo.git.diff", "repo.git.show", "repo.git.head"} <= names
    assert table["repo.git.head"].startswith("@property\n")
    assert not table["repo.git.log"].startswith("@property")


CODE_INTELLIGENCE = """\
print([(c.path, c.qualified, c.calls) for c in repo.callers('with_retries')])
print([i.path for i in repo.importers('shop.retry')])
print(repo.symbol_at('shop/retry.py', 9).qualified)
print(repo.search('retries', k=1)[0].qualified)
print(repo.callers('with_retries'), repo.subclasses('Nothing'))
try:
    repo.callers('with_*')
except ValueError as exc:
    print('refused:', exc)
"""


async def test_code_intelligence_from_the_repl(small_repo: Path) -> None:
    root = ScriptedClient([f"```repl\n{CODE_INTELLIGENCE}\n```", "FINAL(done)"])
    models = Models(root=root, root_model="root", sub=root, sub_model="sub")
    options = EngineOptions(sandbox=SandboxLimits(wall_seconds=20, cpu_seconds=20), require_evidence=False)
    async with Session(Repo(small_repo), models, options) as session:
        await session.ask("Who calls with_retries?")
    output = root.calls[1].messages[-1].content
    assert "[('shop/orders.py', 'place', [5])]" in output  # records keep their qualified name
    assert "['shop/orders.py']" in output
    assert "with_retries\nwith_retries\n" in output
    assert "[shop/orders.py:4 function place (calls at 5)] []" in output  # records print as themselves
    assert "refused: callers() takes a name, not a pattern" in output
