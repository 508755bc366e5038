import pytest

from reporlm.engine.citations import extract, verify


class FakeRepo:
    def __init__(self, files: dict[str, int]) -> None:
        self.files = files

    def line_count(self, path: str) -> int:
        if path not in self.files:
            raise FileNotFoundError(f"no file {path} in the repository")
        return self.files[path]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see `src/a.py:12`", [("src/a.py", 12, 12)]),
        ("lines src/a.py:3-9 and ./b.ts:4", [("src/a.py", 3, 9), ("b.ts", 4, 4)]),
        ("(pkg/mod.py#L10-L12)", [("pkg/mod.py", 10, 12)]),
        ("in x.py, line 5", [("x.py", 5, 5)]),
        ("a.py:9-3", [("a.py", 3, 9)]),
        ("version 1.5:3 and http://host.com:80 and 10:30", []),
        ("Makefile-less folder/Makefile:4", [("folder/Makefile", 4, 4)]),
        ("a.py:1 twice a.py:1", [("a.py", 1, 1)]),
    ],
)
def test_extract(text: str, expected: list[tuple[str, int, int]]) -> None:
    assert extract(text) == expected


def test_verify_marks_missing_files_and_lines_out_of_range() -> None:
    repo = FakeRepo({"a.py": 10, "b/c.go": 3})
    got = {c.label(): c for c in verify("a.py:2-4, a.py:11, b/c.go:3, nope.py:1", repo)}
    assert got["a.py:2-4"].verified
    assert not got["a.py:11"].verified and "10 lines" in got["a.py:11"].reason
    assert got["b/c.go:3"].verified
    assert not got["nope.py:1"].verified and "no file nope.py" in got["nope.py:1"].reason


class DefiningRepo(FakeRepo):
    """A FakeRepo whose index knows where names are defined."""

    def __init__(self, files: dict[str, int], definitions: dict[str, list[tuple[str, int]]]) -> None:
        super().__init__(files)
        self.defs = definitions

    def definitions(self, name: str) -> list[object]:
        from types import SimpleNamespace

        return [SimpleNamespace(path=p, line=n) for p, n in self.defs.get(name.rpartition(".")[2], [])]


def test_a_citation_is_verified_only_when_the_run_saw_it() -> None:
    from reporlm.engine.citations import NOT_SEEN, SeenLines

    repo = FakeRepo({"a.py": 50, "b.py": 10})
    seen = SeenLines()
    seen.add("a.py", 10, 20)  # read a.py lines 10..20
    seen.add_text("b.py:3: x = 1\nsrc/ignored.py 4 text")  # a printed Hit, a print(h.path, h.line)
    got = {c.label(): c for c in verify("a.py:15, a.py:18-30, a.py:40, b.py:3, b.py:4, a.py:99", repo, seen)}
    assert got["a.py:15"].verified and got["a.py:18-30"].verified and got["b.py:3"].verified
    assert not got["a.py:40"].verified and got["a.py:40"].reason == NOT_SEEN and got["a.py:40"].exists
    assert got["b.py:4"].reason == NOT_SEEN
    assert not got["a.py:99"].exists and "50 lines" in got["a.py:99"].reason
    # Without a record of what was seen (checking a plan's text alone), existing lines verify.
    assert verify("a.py:40", repo)[0].verified


def test_the_definition_of_a_symbol_named_beside_the_citation_counts_as_seen() -> None:
    from reporlm.engine.citations import SeenLines

    repo = DefiningRepo({"m.py": 100}, {"verify": [("m.py", 51)], "Parser": [("m.py", 10)]})
    answer = (
        "The check is `verify` (m.py:51).\n"
        "Its class is m.py:9, see Parser.\n"  # a decorator line above the name counts
        "Something else happens at m.py:70 near `verify`.\n"
        "m.py:51 is also cited here without a name."
    )
    got = {c.label(): c for c in verify(answer, repo, SeenLines())}
    assert got["m.py:51"].verified
    assert got["m.py:9"].verified
    assert not got["m.py:70"].verified


def test_the_map_and_outline_forms_count_as_seen() -> None:
    from reporlm.engine.citations import SeenLines

    seen = SeenLines()
    seen.add_map("Repository map (2 of 9 files):\nsrc/app.py\n  12: def main():\n  40: class App:\n")
    assert seen.covers("src/app.py", 12, 12) and seen.covers("src/app.py", 40, 41)
    assert not seen.covers("src/app.py", 13, 39)
