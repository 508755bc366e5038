"""Corpora: pinned sdists fetched with pip, refused when the bytes are not the pinned ones, made git repos."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from bench.corpora import STAMP, CorpusError, ensure_corpus, load_manifest
from evalpack_helpers import FILES, TOP, TinyPack, make_sdist, write_manifest

from reporlm.workspace import Repo


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_a_cached_sdist_becomes_a_git_repository_with_one_fixed_commit(
    tiny_pack: TinyPack, tmp_path: Path
) -> None:
    corpus = load_manifest(tiny_pack.pack)[TOP]
    # pip must not run when the sdist is already in the cache: a "pip" that fails proves it.
    repo = ensure_corpus(corpus, tiny_pack.cache, pip=["false"])
    assert repo == tiny_pack.cache / "repos" / TOP
    assert sorted(Repo(repo).files()) == sorted(FILES)
    assert git(repo, "status", "--porcelain") == ""
    log = git(repo, "log", "--format=%H %an %aI %s").splitlines()
    assert len(log) == 1
    assert f"tinylib 1.0 from {TOP}.tar.gz (sha256 {corpus.sha256})" in log[0]
    assert "2000-01-01T00:00:00+00:00" in log[0]
    # The same sdist gives the same commit anywhere: rebuild it in another cache and compare.
    other = tmp_path / "other-cache"
    (other / "sdists").mkdir(parents=True)
    (other / "sdists" / f"{TOP}.tar.gz").write_bytes(tiny_pack.sdist)
    assert git(ensure_corpus(corpus, other, pip=["false"]), "rev-parse", "HEAD") == git(
        repo, "rev-parse", "HEAD"
    )


def test_a_second_run_reuses_the_tree(tiny_pack: TinyPack) -> None:
    corpus = load_manifest(tiny_pack.pack)[TOP]
    repo = ensure_corpus(corpus, tiny_pack.cache, pip=["false"])
    marker = repo / ".git" / "kept"
    marker.write_text("x")
    (tiny_pack.cache / "sdists" / f"{TOP}.tar.gz").unlink()  # not even the sdist is needed again
    assert ensure_corpus(corpus, tiny_pack.cache, pip=["false"]) == repo
    assert marker.exists()
    assert (repo / ".git" / STAMP).is_file()


def test_a_cached_sdist_with_the_wrong_checksum_is_refused_and_deleted(tiny_pack: TinyPack) -> None:
    corpus = load_manifest(tiny_pack.pack)[TOP]
    cached = tiny_pack.cache / "sdists" / f"{TOP}.tar.gz"
    tampered = make_sdist({**FILES, "tinylib/core.py": "import os; os.system('echo pwned')\n"})
    cached.write_bytes(tampered)
    with pytest.raises(CorpusError) as err:
        ensure_corpus(corpus, tiny_pack.cache, pip=["false"])
    message = str(err.value)
    assert f"refusing corpus {TOP}" in message
    assert hashlib.sha256(tampered).hexdigest() in message  # what it got
    assert corpus.sha256 in message  # what the manifest pins
    assert not cached.exists()
    assert not (tiny_pack.cache / "repos" / TOP).exists()


def test_pip_download_with_the_wrong_checksum_is_refused(
    tiny_pack: TinyPack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A local package index (pip's --find-links) serves an sdist whose bytes differ from the pin.
    links = tmp_path / "links"
    links.mkdir()
    served = make_sdist({**FILES, "tinylib/extra.py": "X = 1\n"})
    (links / f"{TOP}.tar.gz").write_bytes(served)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    (tiny_pack.cache / "sdists" / f"{TOP}.tar.gz").unlink()
    corpus = load_manifest(tiny_pack.pack)[TOP]
    with pytest.raises(CorpusError) as err:
        ensure_corpus(corpus, tiny_pack.cache)
    message = str(err.value)
    assert "pip refused the download" in message
    assert hashlib.sha256(served).hexdigest() in message and corpus.sha256 in message
    assert not (tiny_pack.cache / "sdists" / f"{TOP}.tar.gz").exists()
    assert not (tiny_pack.cache / "repos" / TOP).exists()


def test_pip_failing_for_another_reason_says_what_pip_said(
    tiny_pack: TinyPack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))
    (tiny_pack.cache / "sdists" / f"{TOP}.tar.gz").unlink()
    with pytest.raises(CorpusError, match=r"pip could not download tinylib==1\.0 \(exit 1\)"):
        ensure_corpus(load_manifest(tiny_pack.pack)[TOP], tiny_pack.cache)


def test_an_sdist_escaping_its_folder_is_refused(tiny_pack: TinyPack) -> None:
    evil = make_sdist({f"{TOP}/setup.py": "", "../escaped.txt": "x"}, top="")
    (tiny_pack.cache / "sdists" / f"{TOP}.tar.gz").write_bytes(evil)
    write_manifest(tiny_pack.pack, hashlib.sha256(evil).hexdigest())
    with pytest.raises(CorpusError, match="cannot unpack"):
        ensure_corpus(load_manifest(tiny_pack.pack)[TOP], tiny_pack.cache, pip=["false"])
    assert not (tiny_pack.cache / "escaped.txt").exists()
    assert not (tiny_pack.cache / "repos" / "escaped.txt").exists()
