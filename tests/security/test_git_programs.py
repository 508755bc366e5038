"""A repository's git configuration names programs; reporlm's git calls must run none of them.

Each repository here configures every program git can be told to run (filters picked by
.gitattributes, a signature checker with log.showSignature, hooks, textconv, external diff,
fsmonitor, pagers, a partial clone whose remote is a command). Each program writes a marker file
holding its environment. The control test shows plain git does run them, with the API key in
their environment; then every `repo.git.*` call, `repo.files`, `repo.grep` and `repo.read` run
and no marker may appear.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reporlm.workspace import Repo, WorkspaceError, gitsafe

KEY = "sk-ant-test-secret-0123456789"
HOOKS = ("post-index-change", "pre-commit", "post-checkout", "reference-transaction", "fsmonitor-watchman")


def git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    base.update(GIT_CONFIG_NOSYSTEM="1", **(env or {}))
    identity = ["-c", "user.name=Test", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
    done = subprocess.run(
        ["git", *identity, "-C", str(root), *args], env=base, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise AssertionError(f"git {args}: {done.stderr}")
    return done.stdout


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


class Marks:
    """Programs that record that they ran (and with what environment) and pass their input on."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir()
        self.bin = folder.parent / "bin"
        self.bin.mkdir()

    def command(self, name: str) -> str:
        """A program of its own for `name` (gpg.program, for one, takes no arguments)."""
        script = write(
            self.bin / name,
            "#!/bin/sh\n"
            f'env > "{self.folder}/{name}.$$"\n'
            + {"clean": "exec cat\n", "smudge": "exec cat\n", "textconv": 'exec cat "$1"\n'}.get(
                name, "exit 0\n"
            ),
        )
        script.chmod(0o755)
        return str(script)

    def hooks(self) -> str:
        folder = self.bin / "hooks"
        folder.mkdir()
        for name in HOOKS:
            Path(self.command("hook-" + name)).rename(folder / name)
        return str(folder)

    def ran(self) -> dict[str, str]:
        return {path.name.partition(".")[0]: path.read_text() for path in self.folder.iterdir()}


def programs(marks: Marks) -> dict[str, dict[str, str]]:
    """Each kind of program a repository's configuration can name, as config entries."""
    return {
        "clean": {"filter.evil.clean": marks.command("clean"), "filter.evil.smudge": marks.command("smudge")},
        "process": {"filter.proc.process": marks.command("process"), "filter.proc.required": "true"},
        "gpg": {"gpg.program": marks.command("gpg"), "log.showSignature": "true"},
        "hook-post-index-change": {"core.hooksPath": marks.hooks()},
        "fsmonitor": {"core.fsmonitor": marks.command("fsmonitor")},
        "textconv": {"diff.conv.textconv": marks.command("textconv")},
        "diffcommand": {"diff.evil.command": marks.command("diffcommand")},
        "external": {"diff.external": marks.command("external")},
        "pager": {"core.pager": marks.command("pager"), "pager.log": marks.command("pager")},
        "ssh": {"core.sshCommand": marks.command("ssh"), "credential.helper": marks.command("credential")},
    }


# Which attribute picks which driver, and a plain git command that runs each program.
ATTRIBUTES = {
    "clean": "* filter=evil\n",
    "process": "*.py filter=proc\n",
    "textconv": "*.py diff=conv\n",
    "diffcommand": "*.py diff=evil\n",
}
TRIGGERS = {
    "clean": ["status"],
    "process": ["status"],
    "gpg": ["log", "-1"],
    "hook-post-index-change": ["status"],
    "fsmonitor": ["status"],
    "textconv": ["diff", "HEAD~2", "HEAD"],
    "diffcommand": ["diff", "HEAD~2", "HEAD"],
    "external": ["diff", "HEAD~2", "HEAD"],
}


def hostile_repo(tmp_path: Path, config: dict[str, str], attributes: str, files: int = 210) -> Path:
    """A work tree whose .git/config and .gitattributes name these programs."""
    root = tmp_path / "hostile"
    root.mkdir()
    git(root, "init", "-q")
    for i in range(files):  # enough files for repo.grep to ask git grep first
        write(root / "pkg" / f"mod{i:03}.py", f"def handler_{i}():\n    return 'needle {i}'\n")
    write(root / ".gitattributes", attributes)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    write(root / "pkg" / "mod000.py", "def handler_0():\n    return 'changed needle'\n")
    git(root, "commit", "-q", "-am", "second")
    signed_commit(root)
    for key, value in config.items():
        git(root, "config", key, value)
    # The work tree differs from the index in content and stat data, so git hashes the files
    # (which runs the clean filter) and rewrites the index (which fires post-index-change).
    write(root / "pkg" / "mod001.py", "def handler_1():\n    return 'dirty needle'\n")
    for path in (root / "pkg").iterdir():
        os.utime(path, (1, 1))
    write(root / "untracked.py", "NEW = 'needle'\n")
    return root


def everything(tmp_path: Path, marks: Marks) -> Path:
    config = {key: value for entries in programs(marks).values() for key, value in entries.items()}
    attributes = "* filter=evil diff=evil\n*.py filter=proc diff=conv\n"
    return hostile_repo(tmp_path, config, attributes)


def signed_commit(root: Path) -> None:
    """A commit with a (fake) signature on top: showing it with log.showSignature runs gpg.program."""
    tree = git(root, "rev-parse", "HEAD^{tree}").strip()
    parent = git(root, "rev-parse", "HEAD").strip()
    body = (
        f"tree {tree}\nparent {parent}\nauthor Test <t@example.com> 1700000000 +0000\n"
        "committer Test <t@example.com> 1700000000 +0000\n"
        "gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned\n"
    )
    done = subprocess.run(
        ["git", "-C", str(root), "hash-object", "-t", "commit", "-w", "--stdin"],
        input=body, capture_output=True, text=True, check=True,
    )  # fmt: skip
    git(root, "update-ref", "HEAD", done.stdout.strip())


def partial_clone_with_command_remotes(root: Path, marks: Marks) -> None:
    """Make a file's blob missing, as in a partial clone: reading it would fetch it from a remote
    whose transport runs a program (an ext:: URL; a local remote's uploadpack)."""
    blob = git(root, "rev-parse", "HEAD:pkg/mod005.py").strip()
    (root / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    for key, value in {
        "core.repositoryformatversion": "1",
        "extensions.partialClone": "origin",
        "remote.origin.url": f"ext::{marks.command('fetch-ext')}",
        "remote.origin.promisor": "true",
        "protocol.ext.allow": "always",
        "remote.up.url": str(root),
        "remote.up.uploadpack": marks.command("uploadpack"),
        "remote.up.promisor": "true",
        "protocol.file.allow": "always",
    }.items():
        git(root, "config", key, value)


def every_call(repo: Repo) -> list[Callable[[], Any]]:
    return [
        lambda: repo.files(),
        lambda: repo.grep("needle"),
        lambda: repo.grep("handler_1"),
        lambda: repo.read("pkg/mod001.py"),
        lambda: repo.git.head,
        lambda: repo.git.status(),
        lambda: repo.git.log(),
        lambda: repo.git.log("pkg/mod000.py", n=5),
        lambda: repo.git.blame("pkg/mod000.py"),
        lambda: repo.git.blame("pkg/mod000.py", 1, 2),
        lambda: repo.git.diff("HEAD~2"),
        lambda: repo.git.diff("HEAD~2", "HEAD"),
        lambda: repo.git.diff("HEAD", path="pkg/mod001.py"),
        lambda: repo.git.show("HEAD"),
        lambda: repo.git.show("HEAD~1"),
        lambda: repo.git.show("HEAD", "pkg/mod000.py"),
        lambda: repo.git.show("HEAD", "pkg/mod005.py"),
    ]


@pytest.fixture
def marks(tmp_path: Path) -> Marks:
    return Marks(tmp_path / "marks")


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


@pytest.mark.parametrize("program", sorted(TRIGGERS))
def test_plain_git_runs_the_program_with_the_key(tmp_path: Path, marks: Marks, program: str) -> None:
    """The control: without reporlm's precautions each of these repositories runs code, key in hand."""
    root = hostile_repo(tmp_path, programs(marks)[program], ATTRIBUTES.get(program, ""), files=5)
    subprocess.run(["git", "-C", str(root), *TRIGGERS[program]], env=os.environ, capture_output=True)
    ran = marks.ran()
    assert program in ran, ran.keys()
    assert KEY in ran[program]


def test_no_configured_program_runs_through_reporlm(tmp_path: Path, marks: Marks) -> None:
    root = everything(tmp_path, marks)
    repo = Repo(root)
    assert repo.is_git
    results = [call() for call in every_call(repo)]
    assert marks.ran() == {}
    files, needles = results[0], results[1]
    assert "pkg/mod001.py" in files and "untracked.py" in files
    assert any(hit.path == "pkg/mod001.py" for hit in needles)
    assert {change.path for change in results[5]} >= {"pkg/mod001.py", "untracked.py"}
    assert [commit.subject for commit in results[6]] == ["signed", "second", "first"]
    assert "dirty needle" in results[12]  # the work tree, read raw: no filter, no textconv


def test_plain_git_fetches_a_missing_object_through_a_command_remote(tmp_path: Path, marks: Marks) -> None:
    root = hostile_repo(tmp_path, {}, "", files=10)
    partial_clone_with_command_remotes(root, marks)
    subprocess.run(
        ["git", "-C", str(root), "cat-file", "-p", "HEAD:pkg/mod005.py"], env=os.environ, capture_output=True
    )
    assert {"fetch-ext", "uploadpack"} & marks.ran().keys()


def test_a_missing_object_is_not_fetched_through_a_command_remote(tmp_path: Path, marks: Marks) -> None:
    root = everything(tmp_path, marks)
    partial_clone_with_command_remotes(root, marks)
    repo = Repo(root)
    with pytest.raises(WorkspaceError):
        repo.git.show("HEAD", "pkg/mod005.py")
    for call in every_call(repo):
        with contextlib.suppress(WorkspaceError):  # the missing object: an error, never a fetch
            call()
    assert marks.ran() == {}


def test_git_gets_no_secrets_in_its_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-secret")
    monkeypatch.setenv("GIT_DIR", str(tmp_path))  # would point git at another repository
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.hooksPath'='/tmp'")
    env = gitsafe.environment()
    assert KEY not in env.values() and "ghp-secret" not in env.values()
    assert not {"GIT_DIR", "GIT_CONFIG_PARAMETERS", "ANTHROPIC_API_KEY"} & env.keys()
    assert env["PATH"] == os.environ["PATH"] and env["GIT_OPTIONAL_LOCKS"] == "0"


def test_a_driver_name_git_options_cannot_spell_stops_git(tmp_path: Path, marks: Marks) -> None:
    root = tmp_path / "oddname"
    root.mkdir()
    git(root, "init", "-q")
    write(root / ".gitattributes", "* filter=a=b\n")
    write(root / "a.py", "x = 1\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    git(root, "config", "filter.a=b.clean", marks.command("clean"))
    write(root / "a.py", "x = 2\n")
    repo = Repo(root)
    assert repo.files() == [".gitattributes", "a.py"]  # listed as a plain folder instead
    with pytest.raises(WorkspaceError, match="cannot be switched off"):
        repo.git.status()
    assert marks.ran() == {}


def test_a_submodules_own_configuration_is_not_run(tmp_path: Path, marks: Marks) -> None:
    library = tmp_path / "library"
    library.mkdir()
    git(library, "init", "-q")
    write(library / ".gitattributes", "* filter=sub\n")
    write(library / "lib.py", "VALUE = 1\n")
    git(library, "add", "-A")
    git(library, "commit", "-q", "-m", "lib")
    outer = tmp_path / "outer"
    outer.mkdir()
    git(outer, "init", "-q")
    write(outer / "main.py", "import lib\n")
    git(outer, "add", "-A")
    git(outer, "commit", "-q", "-m", "outer")
    git(outer, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "lib")
    git(outer, "commit", "-q", "-m", "add lib")
    inner = outer / "lib"
    for key, value in {
        "filter.sub.clean": marks.command("clean"),
        "core.fsmonitor": marks.command("fsmonitor"),
        "core.hooksPath": str(tmp_path / "nohooks"),
    }.items():
        git(inner, "config", key, value)
    write(inner / "lib.py", "VALUE = 2\n")
    os.utime(inner / "lib.py", (1, 1))
    repo = Repo(outer)
    repo.git.status()
    repo.git.head  # noqa: B018
    repo.git.diff("HEAD")
    assert marks.ran() == {}


def _chown_tree(root: Path, uid: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.lchown(path, uid, uid)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the repository to another user")
def test_another_users_repository_is_refused_and_runs_nothing(
    tmp_path: Path, marks: Marks, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = everything(tmp_path, marks)
    _chown_tree(root, 65534)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "empty.gitconfig"))
    repo = Repo(root)
    assert not repo.is_git  # listed as a plain folder: git never runs in it
    assert "pkg/mod001.py" in repo.files()
    with pytest.raises(WorkspaceError) as refused:
        repo.git.log()
    message = str(refused.value)
    assert "belongs to another user" in message
    assert f"git config --global --add safe.directory {root}" in message
    for call in every_call(repo):
        try:
            call()
        except WorkspaceError as exc:
            assert "safe.directory" in str(exc)
    assert marks.ran() == {}

    # The line it gives is the fix: once the user allows it, git runs (and still runs nothing of it).
    write(tmp_path / "trusted.gitconfig", f"[safe]\n\tdirectory = {root}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "trusted.gitconfig"))
    allowed = Repo(root)
    assert allowed.is_git
    assert [c.subject for c in allowed.git.log()] == ["signed", "second", "first"]
    for call in every_call(allowed):
        call()
    assert marks.ran() == {}
