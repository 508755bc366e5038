"""Symbols from tree-sitter: golden tags per language, queries over a multi-language repository,
outlines, unsupported languages, unsaved buffers and the ranked repository map."""

from __future__ import annotations

from pathlib import Path

import pytest
from golden_tags import golden_path, render
from workspace_helpers import git, write

from reporlm.workspace import Repo, WorkspaceError
from reporlm.workspace.grammars import GRAMMARS_ENV, grammars_dir, load_grammars

GRAMMARS = load_grammars().grammars


@pytest.mark.parametrize("key", sorted(GRAMMARS))
def test_query_compiles_and_matches_its_golden_tags(key: str) -> None:
    grammar = GRAMMARS[key]
    assert grammar.query().pattern_count > 0
    assert render(grammar) == golden_path(grammar).read_text(encoding="utf-8")


def test_required_languages_are_configured() -> None:
    names = {g.name for g in GRAMMARS.values()}
    assert {"Python", "JavaScript", "TypeScript", "TSX", "Go", "Rust", "Java", "C", "C++"} <= names
    assert load_grammars().for_path("web/app.tsx").key == "tsx"  # type: ignore[union-attr]
    assert load_grammars().for_path("lib/x.h").key == "c"  # type: ignore[union-attr]
    assert load_grammars().for_path("README.md") is None


def test_grammars_folder_is_found_in_the_checkout_and_by_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (grammars_dir() / "languages.toml").is_file()
    checkout = grammars_dir()
    monkeypatch.setenv(GRAMMARS_ENV, str(tmp_path))
    assert grammars_dir() == checkout  # an override without languages.toml is passed over
    (tmp_path / "languages.toml").write_text("", encoding="utf-8")
    assert grammars_dir() == tmp_path


MULTI = {
    "app/models.py": (
        "class Order:\n"
        "    def total(self):\n"
        "        return sum_lines(self)\n"
        "\n"
        "\n"
        "def sum_lines(order):\n"
        "    return 0\n"
    ),
    "app/service.py": (
        "from app.models import Order, sum_lines\n\n\ndef checkout():\n    return Order().total()\n"
    ),
    "tests/test_models.py": (
        "from app.models import sum_lines\n\n\ndef test_sum():\n    assert sum_lines(None) == 0\n"
    ),
    "web/cart.ts": (
        "export class Cart {\n  total(): number {\n    return sumLines(this);\n  }\n}\n"
        "export function sumLines(c: Cart): number {\n  return 0;\n}\n"
    ),
    "server/main.go": (
        "package main\n\ntype Server struct{}\n\nfunc (s *Server) Run() {}\n\n"
        "func main() { (&Server{}).Run() }\n"
    ),
    "engine/lib.rs": "pub struct Engine;\n\nimpl Engine {\n    pub fn start(&self) {}\n}\n",
    "README.md": "# multi\n\nclass NotCode: this is prose.\n",
}


@pytest.fixture
def multi(tmp_path: Path) -> Repo:
    root = tmp_path / "multi"
    for path, text in MULTI.items():
        write(root, path, text)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return Repo(root)


def test_definitions_across_languages_source_before_tests(multi: Repo) -> None:
    found = multi.definitions("sum_lines")
    assert [(s.path, s.line, s.kind) for s in found] == [("app/models.py", 6, "function")]
    assert [(s.path, s.kind, s.parent) for s in multi.definitions("Cart.total")] == [
        ("web/cart.ts", "method", "Cart")
    ]
    assert [(s.path, s.parent) for s in multi.definitions("Run")] == [("server/main.go", "Server")]
    assert [(s.path, s.kind, s.parent) for s in multi.definitions("start")] == [
        ("engine/lib.rs", "method", "Engine")
    ]
    assert multi.definitions("NotCode") == []  # Markdown is not parsed


def test_symbols_filter_by_path_name_pattern_and_kind(multi: Repo) -> None:
    assert [s.name for s in multi.symbols(path="app/models.py")] == ["Order", "total", "sum_lines"]
    assert [s.name for s in multi.symbols(path="app", kind="class")] == ["Order"]
    assert [(s.path, s.name) for s in multi.symbols(name="sum*")] == [
        ("app/models.py", "sum_lines"),
        ("web/cart.ts", "sumLines"),
    ]
    assert [s.name for s in multi.symbols(kind=["method"])] == ["total", "start", "Run", "total"]
    assert len(multi.symbols(max_results=2)) == 2
    with pytest.raises(WorkspaceError, match="no such folder"):
        multi.symbols(path="nowhere")
    with pytest.raises(WorkspaceError, match="kind must be"):
        multi.symbols(kind=3)  # type: ignore[arg-type]


def test_symbols_are_deduplicated(multi: Repo) -> None:
    symbols = multi.symbols()
    assert len({(s.path, s.line, s.name) for s in symbols}) == len(symbols)


def test_references_are_hits_with_the_line_text_tests_last(multi: Repo) -> None:
    hits = multi.references("sum_lines")
    assert [(h.path, h.line) for h in hits] == [
        ("app/models.py", 3),
        ("app/service.py", 1),
        ("tests/test_models.py", 1),
        ("tests/test_models.py", 5),
    ]
    assert hits[0].text == "return sum_lines(self)"
    assert [h.path for h in multi.references("sumLines")] == ["web/cart.ts"]
    with pytest.raises(WorkspaceError, match="not a pattern"):
        multi.references("sum*")


def test_outline_nests_and_unsupported_languages_say_so(multi: Repo) -> None:
    assert multi.outline("app/models.py").splitlines() == [
        "app/models.py (Python, 7 lines, 3 definitions)",
        "    1  class Order:",
        "    2    def total(self):",
        "    6  def sum_lines(order):",
    ]
    text = multi.outline("README.md")
    assert text.startswith("README.md: no outline, Markdown is not a language with symbol support")
    assert "Python" in text
    with pytest.raises(WorkspaceError, match="no such file"):
        multi.outline("app/nothing.py")


def test_scoped_view_sees_only_its_folder(multi: Repo) -> None:
    view = multi.scoped("web")
    assert [s.path for s in view.symbols()] == ["web/cart.ts"] * 3
    assert view.definitions("sum_lines") == []
    with pytest.raises(WorkspaceError, match="outside the scope"):
        view.outline("app/models.py")


def test_unsaved_buffers_are_what_symbols_see(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write(root, "a.py", "def old():\n    pass\n")
    overlay: dict[str, str] = {}
    repo = Repo(root, overlay=overlay)
    assert [s.name for s in repo.symbols()] == ["old"]
    overlay[str(root / "a.py")] = "def new():\n    pass\n\n\ndef newer():\n    pass\n"
    assert [s.name for s in repo.symbols()] == ["new", "newer"]
    assert [s.line for s in repo.definitions("newer")] == [5]
    overlay.clear()
    assert [s.name for s in repo.symbols()] == ["old"]


def test_repo_map_ranks_referenced_code_and_follows_the_question(multi: Repo) -> None:
    plain = multi.repo_map(max_tokens=400)
    assert plain.startswith("Repository map (")
    assert "app/models.py\n" in plain and "  6: def sum_lines(order):" in plain
    # Tests rank below the code they test.
    assert plain.index("app/models.py") < plain.index("tests/test_models.py")
    personal = multi.repo_map("How does the Cart compute its total?", max_tokens=400)
    assert personal.splitlines()[1] == "web/cart.ts"


def test_repo_map_fits_its_budget(tmp_path: Path) -> None:
    root = tmp_path / "big"
    for i in range(60):
        calls = "\n".join(f"    helper_{(i + k) % 60}_fn()" for k in range(1, 4))
        write(root, f"pkg/mod_{i}.py", f"def helper_{i}_fn():\n    pass\n\n\ndef use_{i}():\n{calls}\n")
    repo = Repo(root)
    small = repo.repo_map(max_tokens=120)
    large = repo.repo_map(max_tokens=2000)
    assert 0 < len(small) * 2 // 7 <= 120
    assert len(large) > len(small)
    assert repo.repo_map(max_tokens=0) == ""


def test_definitions_take_the_path_and_name_form_the_functions_print(tmp_path: Path) -> None:
    from reporlm.workspace.symbols import split_path_name

    root = tmp_path / "r"
    for name in ("a.py", "b.py"):
        write(root, name, "def f():\n    pass\n")
    repo = Repo(root, persist_index=False)
    assert [s.path for s in repo.definitions("f")] == ["a.py", "b.py"]
    assert [s.path for s in repo.definitions("b.py::f")] == ["b.py"]
    with pytest.raises(WorkspaceError, match=r"no such file: c\.py"):
        repo.definitions("c.py::f")
    # C++ and Rust scope names are not paths.
    assert split_path_name("Type::method") == (None, "Type::method")
