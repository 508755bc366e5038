"""A tiny evaluation pack: one corpus (a made-up library packed as an sdist) and two questions.

The scorer is the real pack's score.py, used from where the pack lies (../shared/eval), never copied.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from bench.evalset import DEFAULT_EVAL_DIR

TOP = "tinylib-1.0"
FILES = {
    "PKG-INFO": "Metadata-Version: 2.1\nName: tinylib\nVersion: 1.0\n",
    "tinylib/__init__.py": "from tinylib.core import helper\n",
    "tinylib/core.py": (
        "import os\n"
        "\n"
        "\n"
        "def helper(x):\n"
        "    return x + int(os.environ.get('TINY_STEP', '1'))\n"
        "\n"
        "\n"
        "class Base:\n"
        "    pass\n"
        "\n"
        "\n"
        "class Child(Base):\n"
        "    def run(self):\n"
        "        return helper(1)\n"
    ),
    "tinylib/cli.py": "from tinylib.core import helper\n\n\ndef main():\n    return helper(2)\n",
    "tests/test_core.py": (
        "from tinylib.core import helper\n\n\ndef test_helper():\n    assert helper(1) == 2\n"
    ),
}
QUESTIONS = [
    {
        "id": "tinylib-where_defined-0001",
        "corpus": TOP,
        "kind": "where_defined",
        "scoring": "exact-location",
        "question": "In tinylib 1.0, in which file and at which line is the function `helper` defined? "
        "Answer as `path:line` (path relative to the sdist root).",
        "gold": {
            "path": "tinylib/core.py",
            "qualname": "helper",
            "line": 4,
            "decorator_line": 4,
            "end_line": 5,
        },
        "target": "tinylib/core.py::helper",
    },
    {
        "id": "tinylib-importers-0002",
        "corpus": TOP,
        "kind": "importers",
        "scoring": "set-f1",
        "question": "In the library source of tinylib 1.0 (files under `tinylib`; test files excluded), "
        "which modules import `helper` directly from `tinylib.core`? Answer as a list of file paths.",
        "gold": ["tinylib/__init__.py", "tinylib/cli.py"],
        "target": "tinylib.core.helper",
        "target_type": "symbol",
    },
]


def make_sdist(files: dict[str, str], top: str = TOP) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{rel}" if top else rel)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_manifest(pack: Path, sha256: str, *, sdist: str = f"{TOP}.tar.gz") -> None:
    corpus = {
        "name": "tinylib",
        "version": "1.0",
        "sdist": sdist,
        "sha256": sha256,
        "top_folder": TOP,
        "source_roots": ["tinylib"],
    }
    (pack / "corpora.json").write_text(
        json.dumps({"pack_version": "test", "corpora": [corpus]}), encoding="utf-8"
    )


@dataclass
class TinyPack:
    pack: Path
    """The pack folder: corpora.json, dev/tiny.jsonl, files/tinylib-1.0.txt."""
    cache: Path
    """A corpus cache already holding the sdist, as after an earlier download."""
    sdist: bytes

    @property
    def scorer(self) -> Path:
        """The real pack's score.py; a test that scores is skipped where the pack is not laid out."""
        return real_scorer()

    @property
    def questions(self) -> Path:
        return self.pack / "dev" / "tiny.jsonl"

    def args(self, out: Path) -> list[str]:
        pack = ["--eval-dir", str(self.pack), "--scorer", str(self.scorer)]
        return [*pack, "--cache", str(self.cache), "--out", str(out)]


def real_scorer() -> Path:
    script = DEFAULT_EVAL_DIR / "score.py"
    if not script.is_file():
        pytest.skip(f"the evaluation pack is not at {DEFAULT_EVAL_DIR}")
    return script


def build_tiny_pack(root: Path) -> TinyPack:
    pack = root / "pack"
    (pack / "dev").mkdir(parents=True)
    (pack / "files").mkdir()
    sdist = make_sdist(FILES)
    write_manifest(pack, hashlib.sha256(sdist).hexdigest())
    (pack / "dev" / "tiny.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8"
    )
    py_files = sorted(p for p in FILES if p.endswith(".py"))
    (pack / "files" / f"{TOP}.txt").write_text("\n".join(py_files) + "\n", encoding="utf-8")
    cache = root / "cache"
    (cache / "sdists").mkdir(parents=True)
    (cache / "sdists" / f"{TOP}.tar.gz").write_bytes(sdist)
    return TinyPack(pack, cache, sdist)
