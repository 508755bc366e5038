"""The persistent symbol index: warm restarts, edits, branch switches, deletions, incremental
updates, worker processes, and hostile inputs that must be skipped with a reason, never a crash."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest
from workspace_helpers import git, write

from reporlm.workspace import Repo
from reporlm.workspace import index as index_module
from reporlm.workspace.cache import CACHE_DIR_ENV, index_path


class ParseCounter:
    """Counts the contents parsed (a warm index parses nothing)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = index_module.parse_content

        def counting(data: bytes, language: str, grammars: object = None) -> index_module.Parsed:
            self.count += 1
            return real(data, language, grammars)  # type: ignore[arg-type]

        monkeypatch.setattr(index_module, "parse_content", counting)

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> ParseCounter:
    return ParseCounter(monkeypatch)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    git(root, "init", "-q")
    for i in range(5):
        write(root, f"pkg/m{i}.py", f"def f{i}():\n    return {i}\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


def names(repo: Repo) -> list[str]:
    return [s.name for s in repo.symbols()]


def test_index_lives_in_the_cache_folder_and_restarts_warm(project: Path, parses: ParseCounter) -> None:
    repo = Repo(project)
    assert names(repo) == ["f0", "f1", "f2", "f3", "f4"]
    assert parses.take() == 5
    location = Path(repo.index_status().location)
    assert location == index_path(project.resolve()) and location.is_file()
    assert Path(os.environ[CACHE_DIR_ENV]) in location.parents
    assert not any(p.suffix == ".sqlite3" for p in project.rglob("*"))  # nothing in the repository
    repo.close()
    again = Repo(project)
    assert names(again) == ["f0", "f1", "f2", "f3", "f4"]
    assert parses.take() == 0  # loaded, not parsed
    assert again.index_status().state == "ready" and again.index_status().indexed == 5


def test_edit_delete_and_add_are_picked_up(project: Path, parses: ParseCounter) -> None:
    repo = Repo(project)
    names(repo)
    parses.take()
    write(project, "pkg/m1.py", "def renamed():\n    return 1\n")
    (project / "pkg/m2.py").unlink()
    write(project, "pkg/new.py", "class Fresh:\n    pass\n")
    repo.refresh()
    assert names(repo) == ["f0", "renamed", "f3", "f4", "Fresh"] or sorted(names(repo)) == sorted(
        ["f0", "renamed", "f3", "f4", "Fresh"]
    )
    assert parses.take() == 2  # the edited file and the new one
    assert repo.definitions("f2") == []


def test_incremental_update_of_one_file(project: Path, parses: ParseCounter) -> None:
    repo = Repo(project)
    names(repo)
    parses.take()
    write(project, "pkg/m3.py", "def f3():\n    return 3\n\n\ndef extra():\n    pass\n")
    repo.update("pkg/m3.py")
    assert [(s.path, s.line) for s in repo.definitions("extra")] == [("pkg/m3.py", 5)]
    assert parses.take() == 1
    write(project, "pkg/added.py", "def added():\n    pass\n")
    repo.update("pkg/added.py")  # a new file is listed, then indexed
    assert [s.path for s in repo.definitions("added")] == ["pkg/added.py"]


def test_branch_switch_parses_only_new_content(project: Path, parses: ParseCounter) -> None:
    repo = Repo(project)
    names(repo)
    parses.take()
    git(project, "checkout", "-q", "-b", "other")
    write(project, "pkg/m0.py", "def g0():\n    return 0\n")
    git(project, "commit", "-q", "-am", "g0")
    repo.refresh()
    assert "g0" in names(repo) and parses.take() == 1
    git(project, "checkout", "-q", "main")
    repo.refresh()
    assert "f0" in names(repo) and "g0" not in names(repo)
    assert parses.take() == 0  # main's content is still known by its hash


def test_grammar_change_invalidates_the_cache(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repo(project)
    names(repo)
    repo.close()
    monkeypatch.setattr(index_module, "SCHEMA_VERSION", "test-changed")
    counter = ParseCounter(monkeypatch)
    assert names(Repo(project)) == ["f0", "f1", "f2", "f3", "f4"]
    assert counter.take() == 5


def test_corrupt_index_file_is_rebuilt(project: Path) -> None:
    location = index_path(project.resolve())
    location.parent.mkdir(parents=True, exist_ok=True)
    location.write_bytes(b"this is not a database" * 100)
    repo = Repo(project)
    assert names(repo) == ["f0", "f1", "f2", "f3", "f4"]
    assert repo.index_status().location == str(location)


def test_worker_processes_give_the_same_symbols(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(20):
        write(project, f"more/n{i}.py", f"class C{i}:\n    def m(self):\n        return f{i % 5}()\n")
    serial = Repo(project, persist_index=False)
    expected = [(s.path, s.line, s.name, s.parent) for s in serial.symbols()]
    monkeypatch.setattr(index_module, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(index_module, "BATCH_BYTES", 200)
    parallel = Repo(project, persist_index=False)
    parallel._services.index().workers = 2
    assert [(s.path, s.line, s.name, s.parent) for s in parallel.symbols()] == expected
    assert len(expected) == 45


def test_a_cold_index_builds_its_lookup_indexes(project: Path) -> None:
    # A cold index fills empty tables without their SQL indexes and builds them at the end.
    repo = Repo(project, persist_index=False)
    assert names(repo) == ["f0", "f1", "f2", "f3", "f4"]
    db = repo._services.index()._db
    built = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"defs_name", "defs_blob", "refs_name", "refs_blob"} <= built


def test_a_failing_parse_worker_is_reported(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(index_module, "WORKER_MODULE", "reporlm.workspace.no_such_worker")
    repo = Repo(project, persist_index=False)
    repo._services.index().workers = 2
    with pytest.raises(RuntimeError, match=r"a parse worker stopped early \(exit status 1\)"):
        repo.symbols()


def test_background_indexing_then_queries(project: Path) -> None:
    repo = Repo(project)
    repo.start_indexing()
    assert names(repo) == ["f0", "f1", "f2", "f3", "f4"]  # waits for the background sync
    assert repo.index_status().state == "ready"


def test_hostile_inputs_are_skipped_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "hostile"
    write(root, "ok.py", "def fine():\n    pass\n")
    write(root, "binary.py", b"\x00\x01\x02def nope(): pass\n")
    write(root, "latin1.py", "def caf\xe9():\n    return '\xe9'\n".encode("latin-1"))
    write(root, "broken.py", "def broken(:\n    pass\n\ndef after():\n    pass\n")
    with open(root / "huge.py", "w", encoding="utf-8") as handle:
        handle.write("x = 1\n" * (50 * 1024 * 1024 // 6))  # 50 MB of generated code
    write(root, "min.js", "var a=" + "1+" * 10_000 + "1;\nfunction tail(){}\n")  # a 20,000-char line
    write(root, "secret.py", "def hidden():\n    pass\n")
    write(root, "vanishing.py", "def gone():\n    pass\n")
    (root / "loop.py").symlink_to("loop.py")
    (root / "dir_loop").symlink_to(".", target_is_directory=True)
    repo = Repo(root)
    repo.files()  # listed before the file vanishes below
    (root / "vanishing.py").unlink()
    real_open = open

    def guarded_open(path: object, *args: object, **kwargs: object) -> object:
        if str(path).endswith("secret.py"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(index_module, "open", guarded_open, raising=False)
    with caplog.at_level(logging.INFO, logger="reporlm.workspace.index"):
        found = {s.name for s in repo.symbols()}
    assert {"fine", "broken", "after"} <= found
    assert any(name.startswith("caf") for name in found)  # invalid UTF-8 in a name: replaced, not fatal
    assert not found & {"nope", "hidden", "gone", "tail"}
    skipped = repo.index_status().skipped
    assert skipped["huge.py"].startswith("skipped: too large (52.4 MB")
    assert skipped["min.js"].startswith("skipped: minified or generated")
    assert skipped["secret.py"] == "skipped: permission denied"
    assert "vanishing.py" not in skipped
    assert skipped["binary.py"] == "skipped: binary"  # dropped by the listing, shown all the same
    assert "min.js skipped: minified" in caplog.text and "secret.py skipped: permission denied" in caplog.text
    assert repo.outline("huge.py").startswith("huge.py: no outline (skipped: too large")


def _child_processes() -> set[int]:
    """Live processes whose parent is this one (read from /proc: no psutil here)."""
    children = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            children.add(int(entry))
    return children


def _parallel_repo(project: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> Repo:
    """A repository indexed by a worker process and the indexing thread, a batch per file."""
    for rel, text in files.items():
        write(project, rel, text)
    monkeypatch.setattr(index_module, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(index_module, "BATCH_BYTES", 200)
    repo = Repo(project)
    repo._services.index().workers = 2
    return repo


def _hold_first_batch(monkeypatch: pytest.MonkeyPatch, until: threading.Event) -> threading.Event:
    """Hold the indexing thread in the first small batch it parses itself (while its worker
    starts) until `until` is set; the event returned is set once it is held there."""
    parsing = threading.Event()
    real_parse_batch = index_module.parse_batch

    def parse_batch_held(root: str, jobs: list[tuple[str, str]]) -> list:
        parsing.set()
        assert until.wait(30), "the sync was never let go"
        return real_parse_batch(root, jobs)

    monkeypatch.setattr(index_module, "parse_batch", parse_batch_held)
    return parsing


def test_closing_stops_a_cold_index_and_keeps_nothing_half_written(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _child_processes()
    files = {f"more/n{i}.py": f"class C{i}:\n    def m(self):\n        return {i}\n" for i in range(25)}
    repo = _parallel_repo(project, monkeypatch, files)
    index = repo._services.index()
    parsing = _hold_first_batch(monkeypatch, until=index._closing)  # the close falls mid-sync
    repo.start_indexing()
    assert parsing.wait(30)
    repo.close()  # returns once the sync has stopped
    assert index.status().state == "not started"
    assert _child_processes() <= before, "a parse worker was left running"

    reopened = Repo(project)
    stored = reopened._services.index()._db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    assert stored == 0  # the stopped sync was rolled back, not half kept
    assert len(reopened.symbols()) == 5 + 2 * 25  # and the next one indexes everything
    reopened.close()


def test_status_answers_while_indexing_with_how_far_it_is(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"more/n{i}.py": f"def g{i}():\n    return {i}\n" for i in range(25)}
    repo = _parallel_repo(project, monkeypatch, files)
    release = threading.Event()
    parsing = _hold_first_batch(monkeypatch, until=release)
    repo.start_indexing()
    assert parsing.wait(30)
    during = repo.index_status()  # the sync holds the index: this must not wait for it
    release.set()
    assert during.state == "indexing"
    assert during.to_parse == 30 and 0 <= during.parsed < 30
    assert str(during) == f"symbol index indexing: {during.parsed}/30 files parsed"
    assert len(repo.symbols()) == 30
    after = repo.index_status()
    assert (after.state, after.indexed, after.parsed, after.to_parse) == ("ready", 30, 0, 0)
    repo.close()


def test_a_background_sync_tells_its_listeners_how_far_it_got_and_when_it_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "PROGRESS_NOTIFY_SECONDS", 0.0)  # every file, for the test
    for i in range(30):
        write(tmp_path / "many", f"m{i}.py", f"def f{i}():\n    return {i}\n")
    repo = Repo(tmp_path / "many", persist_index=False)
    heard: list[tuple[str, int, int]] = []
    repo.watch_index(lambda status: heard.append((status.state, status.parsed, status.to_parse)))
    repo.start_indexing()
    repo._services.index().wait()
    assert heard[-1][0] == "ready", "the end of the sync is heard"
    progress = [(parsed, total) for state, parsed, total in heard if state == "indexing" and total]
    assert progress and progress[-1] == (30, 30) and progress == sorted(progress)
    repo.close()


def test_a_file_that_grew_past_the_limit_after_its_listing_is_skipped_unread(project: Path) -> None:
    repo = Repo(project)
    names(repo)  # the index holds content now, so a changed file is hashed before it is parsed
    index = repo._services.index()
    small = os.stat(project / "pkg/m0.py")  # the listing's view, taken before the file grew
    (project / "pkg/m0.py").write_bytes(b"x = 1\n" * (index_module.MAX_INDEX_BYTES // 6 + 10))
    rows, jobs = index._known_or_to_parse({"pkg/m0.py": small}, {"pkg/m0.py": "python"}, hash_here=True)
    assert jobs == [] and rows[0][0] == "pkg/m0.py" and rows[0][1] is None
    assert "too large (it grew while indexing)" in rows[0][-1]
    repo.close()
