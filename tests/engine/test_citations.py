import pytest

from reporlm.engine.citations import extract, verify


class FakeRepo:
    def __init__(self, files: dict[str, int]) -> None:
        self.files = files

    def line_count(self, path: str, *, suggest: bool = True) -> int:
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
