"""The server never imports from the repository it is asked about.

`python -m ...` puts the working directory first on sys.path, so a repository holding a
`platformdirs.py` (or `pygls.py`, `json.py`, ...) would run it inside the server, API key in the
environment, as soon as someone ran `reporlm ask ... --repo .` from inside it. Here a repository
holds a module named like every dependency (and a few standard modules); each one writes a marker
when imported. The CLI, the server it starts, the index and its parse workers all run from inside
that repository, and no marker may appear.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
from pathlib import Path

import pytest

from fake_api import FakeAPI
from fake_api import openai_chat as chat
from reporlm.lsp.client import HeadlessClient
from reporlm.workspace import index

KEY = "sk-test-do-not-leak-0123456789"
DEPENDENCIES = (
    "annotated_types",
    "anthropic",
    "anyio",
    "attr",
    "attrs",
    "cattr",
    "cattrs",
    "certifi",
    "distro",
    "docstring_parser",
    "h11",
    "httpcore",
    "httpcore2",
    "httpx",
    "httpx2",
    "idna",
    "jiter",
    "llama_cpp",
    "lsprotocol",
    "markdown_it",
    "mdurl",
    "openai",
    "pathspec",
    "platformdirs",
    "pydantic",
    "pydantic_core",
    "pygls",
    "pygments",
    "rich",
    "sniffio",
    "tree_sitter",
    "tree_sitter_python",
    "tree_sitter_javascript",
    "truststore",
    "typing_extensions",
    "typing_inspection",
    "git",
    "reporlm",
)
STANDARD = ("json", "pickle", "tomllib", "argparse", "logging", "sqlite3", "uuid", "hashlib", "shlex")
CONSOLE_SCRIPT = Path(sys.executable).with_name("reporlm")


def hostile_repository(root: Path, marks: Path) -> Path:
    marks.mkdir()
    root.mkdir()
    for name in (*DEPENDENCIES, *STANDARD, "sitecustomize", "usercustomize"):
        (root / f"{name}.py").write_text(
            f"import os\nopen({str(marks / name)!r}, 'w').write(repr(dict(os.environ)))\n", encoding="utf-8"
        )
    (root / "app.py").write_text("def retries():\n    return 3\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "-C", str(root), *identity, "commit", "-qm", "init"], check=True)
    return root


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    return tmp_path / "marks"


@pytest.fixture
def repo(tmp_path: Path, marks: Path) -> Path:
    return hostile_repository(tmp_path / "repo", marks)


def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORLM_") and not k.endswith("_API_KEY")}
    env.update(REPORLM_CACHE_DIR=str(tmp_path / "cache"), OPENAI_API_KEY=KEY)
    return env


def test_the_markers_work(repo: Path, marks: Path, tmp_path: Path) -> None:
    """The control: plain `python -m` from inside the repository does import its modules."""
    subprocess.run(
        [sys.executable, "-m", "platformdirs"], cwd=repo, env=environment(tmp_path), capture_output=True
    )
    assert (marks / "platformdirs").exists()
    assert KEY in (marks / "platformdirs").read_text()


def test_ask_from_inside_the_repository_imports_nothing_of_it(
    repo: Path, marks: Path, tmp_path: Path, fake_api: FakeAPI
) -> None:
    fake_api.queue(200, chat("```repl\nprint(repo.grep('return 3'))\n```"))
    fake_api.queue(200, chat("FINAL(It is in `app.py:2`.)"))
    args = [str(CONSOLE_SCRIPT), "ask", "Where are retries set?", "--repo", ".", "--provider", "openai"]
    args += ["--base-url", fake_api.url + "/v1", "--model", "m", "--trace", str(tmp_path / "t.jsonl")]
    done = subprocess.run(
        args, cwd=repo, env=environment(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "app.py:2" in done.stdout
    assert sorted(p.name for p in marks.iterdir()) == []


def test_the_server_command_imports_nothing_of_the_working_directory(
    repo: Path, marks: Path, tmp_path: Path
) -> None:
    # The server imports pygls, lsprotocol, platformdirs... at start-up, then stops at end of input.
    done = subprocess.run(
        HeadlessClient.server_command("info"),
        cwd=repo,
        env=environment(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    assert sorted(p.name for p in marks.iterdir()) == []


def test_python_dash_m_reporlm_drops_the_working_directory(repo: Path, marks: Path, tmp_path: Path) -> None:
    # Someone may still type `python -m reporlm` there; what it imports after starting is safe.
    (repo / "reporlm.py").unlink()  # that one would be run instead of reporlm itself: no cure
    done = subprocess.run(
        [sys.executable, "-m", "reporlm", "index", "--repo", "."],
        cwd=repo,
        env=environment(tmp_path),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    leaked = sorted(p.name for p in marks.iterdir())
    # Modules Python itself imports before reporlm's first line runs are out of its hands.
    assert set(leaked) <= {"sitecustomize", "usercustomize"} and not (set(leaked) & set(DEPENDENCIES)), leaked


def test_index_and_parse_workers_from_inside_the_repository(
    repo: Path, marks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), "index", "--repo", "."],
        cwd=repo,
        env=environment(tmp_path),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    # A parse worker (started for large cold indexes) runs with the server's working directory.
    monkeypatch.chdir(repo)
    results: queue.Queue = queue.Queue()
    worker = index._Worker(str(repo), results)
    worker.send([("app.py", "python")])
    worker.send(None)
    _, batch = results.get(timeout=60)
    assert not isinstance(batch, BaseException), batch
    worker.process.wait(timeout=60)
    assert sorted(p.name for p in marks.iterdir()) == []
