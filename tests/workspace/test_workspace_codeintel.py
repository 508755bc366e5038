"""Code intelligence on Repo: callers, subclasses, importers, symbol_at and search, in Python and
other languages, with what they print, what they refuse, and an index of the older format."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from repo_builder import make_repo
from reporlm.workspace import Repo, WorkspaceError
from reporlm.workspace.cache import index_path
from reporlm.workspace.grammars import load_grammars
from reporlm.workspace.index import SCHEMA_VERSION

PYTHON = {
    "src/shop/__init__.py": "from .models import Order\nfrom . import payments\n",
    "src/shop/models.py": (
        '"""Orders and what they are made of."""\n'  # 1
        "import logging\n"  # 2
        "\n"  # 3
        "\n"  # 4
        "class Model:\n"  # 5
        '    """The base of every stored record."""\n'  # 6
        "\n"  # 7
        "\n"  # 8
        "class Order(Model):\n"  # 9
        "    registry = make_registry()\n"  # 10
        "\n"  # 11
        "    def submit(self):\n"  # 12
        '        """Send the order to the payment provider and wait for its receipt."""\n'  # 13
        "        self.validate()\n"  # 14
        "        return charge(self)\n"  # 15
        "\n"  # 16
        "    def validate(self):\n"  # 17
        "        def check(line):\n"  # 18
        "            return charge(line, dry_run=True)\n"  # 19
        "        return all(check(x) for x in self.lines)\n"  # 20
        "\n"  # 21
        "\n"  # 22
        "@register(charge(0))\n"  # 23
        "def refund(order):\n"  # 24
        "    return charge(order, -1)\n"  # 25
        "\n"  # 26
        "\n"  # 27
        "DEFAULT = charge(None)\n"  # 28
    ),
    "src/shop/payments.py": (
        "def charge(order, amount=None, dry_run=False):\n"
        '    """Charge a card for an order: the amount, or the order\'s total."""\n'
        "    return amount\n"
        "\n"
        "\n"
        "def make_registry():\n"
        "    return {}\n"
    ),
    "src/shop/kinds/__init__.py": "",
    "src/shop/kinds/rush.py": (
        "from ..models import Order as BaseOrder, charge\n"  # 1
        "import shop.models as models\n"  # 2
        "from typing import Generic, TypeVar\n"  # 3
        "\n"  # 4
        'T = TypeVar("T")\n'  # 5
        "\n"  # 6
        "\n"  # 7
        "class RushOrder(BaseOrder):\n"  # 8
        "    pass\n"  # 9
        "\n"  # 10
        "\n"  # 11
        "class ExpressOrder(RushOrder, Generic[T]):\n"  # 12
        "    pass\n"  # 13
        "\n"  # 14
        "\n"  # 15
        "class Stored(models.Model):\n"  # 16
        "    pass\n"  # 17
    ),
    "src/shop/report.py": "from shop.models import *\nfrom shop import models\n\nprint(models)\n",
    "src/shop/other.py": "from .payments import make_registry\nimport logging\n",
    "tests/test_models.py": "from shop.models import Order\n\n\ndef test_submit():\n    Order().submit()\n",
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    return Repo(make_repo(tmp_path_factory.mktemp("shop"), PYTHON), persist_index=False)


def callers(repo: Repo, name: str) -> list[tuple[str, str, tuple[int, ...]]]:
    return [(c.path, c.qualified, c.calls) for c in repo.callers(name)]


def test_callers_map_each_call_to_its_innermost_definition(shop: Repo) -> None:
    assert callers(shop, "charge") == [
        ("src/shop/models.py", "<module>", (23, 28)),  # a decorator runs where the function is defined
        ("src/shop/models.py", "Order.submit", (15,)),
        ("src/shop/models.py", "Order.validate.check", (19,)),  # a nested function is its own caller
        ("src/shop/models.py", "refund", (25,)),  # decorated: the body is the function's
    ]


def test_callers_see_methods_called_through_self_and_calls_in_a_class_body(shop: Repo) -> None:
    assert callers(shop, "validate") == [("src/shop/models.py", "Order.submit", (14,))]
    assert callers(shop, "Order.validate") == callers(shop, "validate")  # by name: the last part
    assert callers(shop, "make_registry") == [("src/shop/models.py", "Order", (10,))]
    # Sources first, tests last, as repo.definitions orders them.
    assert [c.path for c in shop.callers("submit")] == ["tests/test_models.py"]
    assert shop.callers("no_such_function") == []


def test_a_caller_prints_where_it_is_and_its_call_lines(shop: Repo) -> None:
    found = {c.qualified: c for c in shop.callers("charge")}
    assert str(found["Order.submit"]) == "src/shop/models.py:12 method Order.submit (calls at 15)"
    module = found["<module>"]
    assert (module.kind, module.line, module.end_line) == ("module", 1, 28)
    assert str(module) == "src/shop/models.py:1 module <module> (calls at 23, 28)"


def test_subclasses_follow_aliases_qualified_and_generic_bases_transitively(shop: Repo) -> None:
    found = shop.subclasses("Model")
    assert [(s.path, s.qualified, s.bases) for s in found] == [
        ("src/shop/kinds/rush.py", "Stored", ("models.Model",)),
        ("src/shop/models.py", "Order", ("Model",)),
        ("src/shop/kinds/rush.py", "RushOrder", ("BaseOrder",)),  # `Order as BaseOrder`
        ("src/shop/kinds/rush.py", "ExpressOrder", ("RushOrder", "Generic")),
    ]
    assert str(found[3]) == "src/shop/kinds/rush.py:12 class ExpressOrder(RushOrder, Generic)"
    direct = shop.subclasses("shop.models.Model", transitive=False)
    assert [s.qualified for s in direct] == ["Stored", "Order"]
    assert shop.subclasses("Stored") == []
    with pytest.raises(WorkspaceError, match="transitive must be True or False"):
        shop.subclasses("Model", transitive="yes")  # type: ignore[arg-type]


def test_importers_resolve_relative_imports_against_the_package(shop: Repo) -> None:
    def paths(target: str) -> list[str]:
        return [i.path for i in shop.importers(target)]

    modules = [
        "src/shop/__init__.py",  # from .models import Order
        "src/shop/kinds/rush.py",  # from ..models import ...
        "src/shop/report.py",  # from shop import models; from shop.models import *
        "tests/test_models.py",
    ]
    assert paths("shop.models") == modules
    assert paths("src/shop/models.py") == modules  # a path names the module too
    assert paths("shop.models.Order") == [
        "src/shop/__init__.py",
        "src/shop/kinds/rush.py",
        "tests/test_models.py",
    ]
    assert paths("models.Order") == paths("shop.models.Order")  # the end of a dotted name is enough
    assert paths("shop.payments") == ["src/shop/__init__.py", "src/shop/other.py"]  # from . import payments
    assert paths("shop.payments.make_registry") == ["src/shop/other.py"]
    assert paths("logging") == ["src/shop/models.py", "src/shop/other.py"]
    assert paths("shop.nothing") == []
    first = shop.importers("shop.models")[1]
    assert (first.line, first.text) == (1, "from ..models import Order as BaseOrder, charge")
    assert str(first) == "src/shop/kinds/rush.py:1: from ..models import Order as BaseOrder, charge"


def test_symbol_at_is_the_innermost_definition(shop: Repo) -> None:
    def at(line: int) -> str | None:
        found = shop.symbol_at("src/shop/models.py", line)
        return None if found is None else found.qualified

    assert at(19) == "Order.validate.check"
    assert at(20) == "Order.validate"
    assert at(10) == "Order.registry"  # a class attribute is a definition too
    assert at(25) == "refund"
    assert at(23) is None  # the decorator line is module-level code
    assert at(2) is None
    assert at(999) is None
    with pytest.raises(WorkspaceError, match="no such file"):
        shop.symbol_at("src/shop/nope.py", 1)
    with pytest.raises(WorkspaceError, match="line must be an int"):
        shop.symbol_at("src/shop/models.py", "3")  # type: ignore[arg-type]


def test_search_ranks_definitions_by_their_words_and_docs(shop: Repo) -> None:
    top = shop.search("send an order to the payment provider")
    assert top[0].qualified == "Order.submit"
    assert top[0].doc == "Send the order to the payment provider and wait for its receipt."
    assert str(top[0]).startswith("src/shop/models.py:12 method Order.submit: Send the order")
    assert shop.search("charging cards")[0].qualified == "charge"  # stems: charging ~ charge
    assert shop.search("makeRegistry")[0].qualified == "make_registry"  # names split into words
    assert shop.search("stored record base", kind="class")[0].qualified == "Model"
    assert all(m.kind == "function" for m in shop.search("order", kind="function"))
    assert len(shop.search("order", k=2)) == 2
    assert {m.path for m in shop.search("order", under="src/shop/kinds")} == {"src/shop/kinds/rush.py"}
    assert [m.path for m in shop.search("submit", under="tests")] == ["tests/test_models.py"]
    with pytest.raises(WorkspaceError, match="no such folder"):
        shop.search("order", under="src/nowhere")
    with pytest.raises(WorkspaceError, match="outside the repository"):
        shop.search("order", under="../")  # a model's folder is untrusted
    assert shop.search("the of and") == []  # nothing worth searching for
    with pytest.raises(WorkspaceError, match="takes words"):
        shop.search("  ")
    with pytest.raises(WorkspaceError, match="k must be at least 1"):
        shop.search("order", k=0)


def test_names_must_be_names(shop: Repo) -> None:
    with pytest.raises(WorkspaceError, match="not a pattern"):
        shop.callers("char*")
    with pytest.raises(WorkspaceError, match="non-empty string"):
        shop.subclasses("")
    with pytest.raises(WorkspaceError, match="takes a module"):
        shop.importers(" . ")


def test_a_scoped_view_and_unsaved_buffers_are_what_is_answered(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", PYTHON)
    scoped = Repo(root, persist_index=False).scoped("src/shop/kinds")
    assert [c.path for c in scoped.callers("charge")] == []
    assert [s.qualified for s in scoped.subclasses("Order")] == ["RushOrder", "ExpressOrder"]
    buffers = {
        "src/shop/payments.py": PYTHON["src/shop/payments.py"] + "\n\ndef retry():\n    return charge(0)\n"
    }
    live = Repo(root, overlay=buffers, persist_index=False)
    assert ("src/shop/payments.py", "retry", (11,)) in callers(live, "charge")
    assert live.symbol_at("src/shop/payments.py", 11).qualified == "retry"  # type: ignore[union-attr]


# ----- other languages -------------------------------------------------------------------------

OTHERS = {
    "web/base.ts": (
        "export interface Shape { area(): number; }\n"
        "export class Base implements Shape {\n"
        "  area(): number { return 0; }\n"
        "}\n"
    ),
    "web/square.ts": (
        'import { Base } from "./base";\n'
        'import * as util from "../lib/index";\n'
        "\n"
        "/** A square: four equal sides. */\n"
        "export class Square extends Base {\n"
        "  area(): number {\n"
        "    return this.side() * util.twice(1);\n"
        "  }\n"
        "  side(): number { return 1; }\n"
        "}\n"
    ),
    "lib/index.js": "export function twice(x) {\n  return x * 2;\n}\n",
    "app/main.js": (
        'const lib = require("../lib");\n'
        'import { Square } from "../web/square";\n'
        "class Tile extends Square {}\n"
        "function main() {\n"
        "  return lib.twice(new Tile().area());\n"
        "}\n"
    ),
    "java/src/shop/Order.java": (
        "package shop;\n"
        "\n"
        "import shop.money.Price;\n"
        "import java.util.*;\n"
        "\n"
        "public class Order extends Entity implements Comparable<Order> {\n"
        "    int total() { return Price.of(this).cents(); }\n"
        "}\n"
        "interface Audited extends Comparable<Order> {}\n"
    ),
    "java/src/shop/Rush.java": (
        "package shop;\n\nclass Rush extends Order {\n    int fee() { return total(); }\n}\n"
    ),
    "rust/src/lib.rs": (
        "use crate::shapes::{Circle, area::Area};\n"
        "\n"
        "pub struct Ring;\n"
        "\n"
        "/// Something with a size.\n"
        "pub trait Sized2 {}\n"
        "\n"
        "impl Sized2 for Ring {}\n"
        "impl Sized2 for Circle {}\n"
    ),
    "rust/src/shapes/mod.rs": "pub struct Circle;\n",
    "go/server/main.go": (
        'package main\n\nimport (\n\tweb "example.com/shop/web"\n\t"fmt"\n)\n\n'
        "// Serve starts the server.\nfunc Serve() { fmt.Println(web.Handler()) }\n"
    ),
    "c/util.h": "int halve(int x);\n",
    "c/main.c": '#include <stdio.h>\n#include "util.h"\n\nint main(void) { return halve(1); }\n',
    "scripts/run.sh": "source ./lib.sh\nhelper\n",
    "scripts/lib.sh": "helper() { echo hi; }\n",
}


@pytest.fixture(scope="module")
def others(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    return Repo(make_repo(tmp_path_factory.mktemp("others"), OTHERS), persist_index=False)


def test_callers_in_typescript_javascript_java_go_and_c(others: Repo) -> None:
    assert callers(others, "side") == [("web/square.ts", "Square.area", (7,))]
    assert callers(others, "twice") == [("app/main.js", "main", (5,)), ("web/square.ts", "Square.area", (7,))]
    assert callers(others, "total") == [("java/src/shop/Rush.java", "Rush.fee", (4,))]
    assert callers(others, "Println") == [("go/server/main.go", "Serve", (9,))]
    assert callers(others, "halve") == [("c/main.c", "main", (4,))]


def test_subclasses_across_files_in_typescript_javascript_java_and_rust(others: Repo) -> None:
    assert [(s.path, s.qualified) for s in others.subclasses("Shape")] == [
        ("web/base.ts", "Base"),  # implements
        ("web/square.ts", "Square"),
        ("app/main.js", "Tile"),  # a JavaScript class extending a TypeScript one
    ]
    assert [(s.qualified, s.bases) for s in others.subclasses("Comparable")] == [
        ("Order", ("Entity", "Comparable")),
        ("Audited", ("Comparable",)),  # interface ... extends
        ("Rush", ("Order",)),
    ]
    rings = others.subclasses("Sized2")  # impl Trait for Type: the type, where it is defined
    assert [(s.path, s.qualified, s.kind) for s in rings] == [
        ("rust/src/lib.rs", "Ring", "class"),
        ("rust/src/shapes/mod.rs", "Circle", "class"),
    ]


def test_importers_in_typescript_javascript_java_rust_go_c_and_shell(others: Repo) -> None:
    def paths(target: str) -> list[str]:
        return [i.path for i in others.importers(target)]

    assert paths("web/base.ts") == ["web/square.ts"]  # "./base"
    assert paths("lib/index.js") == ["app/main.js", "web/square.ts"]  # "../lib", "../lib/index"
    assert paths("web/square") == ["app/main.js"]
    assert paths("shop.money.Price") == ["java/src/shop/Order.java"]
    assert paths("java.util") == ["java/src/shop/Order.java"]  # import java.util.*
    assert paths("shapes.Circle") == ["rust/src/lib.rs"]  # use crate::shapes::{Circle, ...}
    assert paths("shapes.area.Area") == ["rust/src/lib.rs"]
    assert paths("example.com/shop/web") == ["go/server/main.go"]
    assert paths("fmt") == ["go/server/main.go"]
    assert paths("scripts/lib.sh") == ["scripts/run.sh"]
    assert paths("c/util.h") == paths("util.h") == ["c/main.c"]  # next to the including file
    assert paths("stdio.h") == ["c/main.c"]


def test_search_and_symbol_at_in_other_languages(others: Repo) -> None:
    square = others.search("four equal sides")[0]
    assert (square.path, square.qualified, square.doc) == (
        "web/square.ts",
        "Square",
        "A square: four equal sides.",
    )
    assert others.search("starts the server")[0].qualified == "Serve"  # Go's leading // comment
    assert others.search("something with a size")[0].qualified == "Sized2"  # Rust's ///
    assert others.symbol_at("web/square.ts", 7).qualified == "Square.area"  # type: ignore[union-attr]
    assert others.symbol_at("java/src/shop/Order.java", 7).qualified == "Order.total"  # type: ignore[union-attr]


def test_languages_without_what_a_function_needs_say_so(tmp_path: Path) -> None:
    go = Repo(
        make_repo(tmp_path / "go", {"main.go": "package main\n\ntype Server struct{}\n"}), persist_index=False
    )
    with pytest.raises(WorkspaceError, match=r"repo.subclasses is not supported for Go: .*no base classes"):
        go.subclasses("Server")
    sh = Repo(make_repo(tmp_path / "sh", {"a.sh": "f() { :; }\nf\n"}), persist_index=False)
    with pytest.raises(WorkspaceError, match=r"repo\.subclasses is not supported for Bash"):
        sh.subclasses("f")
    assert [c.qualified for c in sh.callers("f")] == ["<module>"]
    # A mixed repository answers for the languages that can, and names the one that cannot.
    go_file = {"main.go": "package main\n\ntype Server struct{}\n"}
    mixed = Repo(make_repo(tmp_path / "mixed", {**OTHERS, **go_file}), persist_index=False)
    assert [s.qualified for s in mixed.subclasses("Base")] == ["Square", "Tile"]
    with pytest.raises(WorkspaceError, match="not supported for Go"):
        mixed.subclasses("Server")  # defined only in Go


def test_every_grammar_says_what_it_supports() -> None:
    grammars = load_grammars().grammars
    assert all(g.supports("calls") for g in grammars.values())
    assert {k for k, g in grammars.items() if not g.supports("bases")} == {"go", "c", "bash"}
    assert all(g.supports("imports") for g in grammars.values())


# ----- the index format ------------------------------------------------------------------------

_V1_TABLES = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE blobs(id INTEGER PRIMARY KEY, hash TEXT UNIQUE NOT NULL, language TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '', seen REAL NOT NULL DEFAULT 0);
CREATE TABLE files(path TEXT PRIMARY KEY, blob INTEGER, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL, status TEXT NOT NULL DEFAULT '') WITHOUT ROWID;
CREATE TABLE defs(blob INTEGER NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, line INTEGER NOT NULL,
    end_line INTEGER NOT NULL, parent TEXT NOT NULL, signature TEXT NOT NULL);
CREATE TABLE refs(blob INTEGER NOT NULL, name TEXT NOT NULL, lines TEXT NOT NULL, count INTEGER NOT NULL);
CREATE INDEX refs_name ON refs(name);
"""


def test_an_index_of_the_older_format_is_rebuilt(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", PYTHON)
    cache = tmp_path / "cache"
    db_path = index_path(root.resolve(), cache)
    db_path.parent.mkdir(parents=True)
    old = sqlite3.connect(db_path)
    old.executescript(_V1_TABLES)
    fingerprint = f"1:{load_grammars().fingerprint()}"
    old.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
    old.execute("INSERT INTO blobs VALUES (1, 'abc', 'python', '', 0)")
    old.execute("INSERT INTO refs VALUES (1, 'charge', '3', 1)")
    old.commit()
    old.close()

    repo = Repo(root, cache_dir=cache)
    assert [c.qualified for c in repo.callers("validate")] == ["Order.submit"]
    assert repo.index_status().location == str(db_path)  # the old file, upgraded in place
    assert repo.search("payment provider")[0].qualified == "Order.submit"
    repo.close()
    db = sqlite3.connect(db_path)
    assert (
        db.execute("SELECT value FROM meta WHERE key='fingerprint'")
        .fetchone()[0]
        .startswith(f"{SCHEMA_VERSION}:")
    )
    assert "kind" in {row[1] for row in db.execute("PRAGMA table_info(refs)")}
    assert db.execute("SELECT COUNT(*) FROM blobs WHERE hash = 'abc'").fetchone() == (0,)


def test_under_keeps_the_results_in_one_folder(shop: Repo) -> None:
    everywhere = {c.path for c in shop.callers("submit")}
    assert everywhere == {"tests/test_models.py"}
    assert shop.callers("submit", under="src") == []
    assert {s.qualified for s in shop.subclasses("Model", under="src/shop/kinds")} == {
        "RushOrder",
        "ExpressOrder",
        "Stored",
    }
    assert {s.qualified for s in shop.subclasses("Model")} == {"Order", "RushOrder", "ExpressOrder", "Stored"}
    assert {i.path for i in shop.importers("shop.models", under="tests")} == {"tests/test_models.py"}
    with pytest.raises(WorkspaceError, match="no such folder: nowhere"):
        shop.importers("shop.models", under="nowhere")
