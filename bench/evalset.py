"""Questions with gold answers, the sample a run takes, the answer format each asks for, and scoring.

Question sets are JSONL files of the evaluation pack (../shared/eval by default; see its README).
Scoring is the pack's own `score.py`, imported from where it lies: its scorers are the reference,
and nothing here re-implements them.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

KINDS: tuple[str, ...] = ("where_defined", "callers", "subclasses", "env_read", "needle", "importers")
"""The pack's question kinds, in the order tables show them."""

DEFAULT_EVAL_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
"""../shared/eval next to the checkout, where the pack is laid for developers and CI."""


class EvalSetError(Exception):
    """A question set or the scorer cannot be read."""


@dataclass(frozen=True)
class Question:
    id: str
    corpus: str
    """The corpus's top folder, e.g. requests-2.34.2."""
    kind: str
    scoring: str
    """Which scorer of score.py applies: exact-location, set-f1 or exact-name."""
    text: str
    row: dict[str, Any] = field(repr=False, compare=False, hash=False)
    """The whole row as the scorer reads it (gold included; never shown to a model)."""


def resolve_set(spec: str, eval_dir: Path) -> Path:
    """A set given as a path, or by its name inside the pack: `dev/needle.jsonl`, `needle`."""
    for candidate in (Path(spec), eval_dir / spec, eval_dir / "dev" / f"{spec}.jsonl"):
        if candidate.is_file():
            return candidate
    raise EvalSetError(f"no question set {spec!r} (looked for it as a path and in {eval_dir})")


def default_sets(eval_dir: Path) -> list[Path]:
    found = sorted((eval_dir / "dev").glob("*.jsonl"))
    if not found:
        raise EvalSetError(f"no question sets in {eval_dir / 'dev'}; pass --eval-dir or --set")
    return found


def load_questions(paths: Iterable[Path]) -> list[Question]:
    questions: dict[str, Question] = {}
    for path in paths:
        try:
            lines = path.read_text("utf-8").splitlines()
        except OSError as exc:
            raise EvalSetError(f"cannot read {path}: {exc}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                q = Question(row["id"], row["corpus"], row["kind"], row["scoring"], row["question"], row)
            except (ValueError, KeyError) as exc:
                raise EvalSetError(f"{path}:{number}: not a question row ({exc})") from None
            questions.setdefault(q.id, q)  # the same set given twice asks each question once
    return list(questions.values())


def select(
    questions: Sequence[Question],
    *,
    corpora: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    per_kind: int | None = None,
    limit: int | None = None,
) -> list[Question]:
    """A deterministic sample: up to ``per_kind`` questions of each (corpus, kind), then ``limit``.

    Within a group questions are taken in id order (ids end in a content hash, so this is a fixed
    pseudo-random pick). The result interleaves the groups, so a run stopped early, or cut by
    ``limit``, still covers every kind. ``corpora`` match the top folder or the bare name.
    """
    groups: dict[tuple[str, str], list[Question]] = defaultdict(list)
    for q in questions:
        if kinds and q.kind not in kinds:
            continue
        if corpora and q.corpus not in corpora and q.corpus.rsplit("-", 1)[0] not in corpora:
            continue
        groups[(q.corpus, q.kind)].append(q)
    ranked: list[tuple[int, int, str, Question]] = []
    for (corpus, kind), members in groups.items():
        members.sort(key=lambda q: q.id)
        kind_order = KINDS.index(kind) if kind in KINDS else len(KINDS)
        for rank, q in enumerate(members[:per_kind] if per_kind is not None else members):
            ranked.append((rank, kind_order, corpus, q))
    ranked.sort(key=lambda item: item[:3])
    chosen = [item[3] for item in ranked]
    return chosen[:limit] if limit is not None else chosen


# -- the answer format each scorer needs --------------------------------------------------------

# Templates, not examples: a small model copies a realistic example path verbatim.
_TEMPLATES = {
    "location": "<path>:<line>",
    "name": "<path>::<QualifiedName>",
    "names": "<path>::<QualifiedName>\n<path>::<QualifiedName>\n...",
    "files": "<path>\n<path>\n...",
}
_WHAT = {
    "location": "the one location where it is defined",
    "name": "the one best answer",
    "names": "every item, one per line",
    "files": "every file, one per line",
}
_QUALIFIED_SETS = {"callers", "subclasses"}


def answer_shape(q: Question) -> str:
    """location | name | names | files: what the row's scorer reads."""
    if q.scoring == "exact-location":
        return "location"
    if q.scoring == "exact-name":
        return "name"
    if q.kind in _QUALIFIED_SETS:
        return "names"
    if q.kind in ("env_read", "importers"):
        return "files"
    # An unknown kind: the scorer compares qualified names when the gold has them.
    gold = q.row.get("gold") or []
    return "names" if any("::" in str(g) for g in gold) else "files"


def format_instruction(q: Question) -> str:
    # A plain-text marker rather than a fenced block: the RLM's protocol reads fences as code.
    shape = answer_shape(q)
    return (
        "Paths are relative to the repository root. End your answer with a line `ANSWER:` followed "
        f"only by the answer ({_WHAT[shape]}), in this form:\nANSWER:\n{_TEMPLATES[shape]}"
    )


def prompt_for(q: Question) -> str:
    """The question as every mode asks it: the pack's text plus the answer format its scorer needs."""
    return f"{q.text}\n\n{format_instruction(q)}"


_MARKER = re.compile(r"^[ \t>*_#-]*answer[*_]*[ \t]*:[*_]*[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)


def answer_section(text: str) -> str | None:
    """What follows the last `ANSWER:` line of a reply, up to a blank line or the end of a fenced
    block; None when the model wrote no such line."""
    matches = list(_MARKER.finditer(text or ""))
    if not matches:
        return None
    last = matches[-1]
    lines = [last.group(1)] if last.group(1).strip() else []
    for line in text[last.end() :].split("\n")[1:]:
        fence = line.strip().startswith("```")
        if fence and not lines:
            continue  # the answer put in a fenced block of its own
        if fence or (not line.strip() and lines):
            break
        if line.strip():
            lines.append(line)
    return "\n".join(lines).strip() or None


def prediction(q: Question, answer: str) -> dict[str, Any]:
    """The scorer's input: the ANSWER section when there is one (prose around it would add stray
    paths to a set), else the whole answer for the scorer's own free-text extraction."""
    section = answer_section(answer)
    return {"id": q.id, "answer_text": section if section is not None else answer}


# -- scoring with the pack's score.py -------------------------------------------------------------


class Scorer:
    """The pack's score.py, imported from its own folder; ``pack`` is where files/<corpus>.txt lie."""

    def __init__(self, script: Path, pack: Path | None = None) -> None:
        self.script = script.resolve()
        self.module = _import_scorer(self.script)
        # score.py reads files/<corpus>.txt from the folder in HERE (its --pack option sets it too).
        self.module.HERE = str((pack or self.script.parent).resolve())
        self._corpora: dict[str, Any] = {}

    def score(self, q: Question, pred: dict[str, Any] | None) -> tuple[float, dict[str, float]]:
        """(primary metric, every metric) of one prediction; None scores as a missing answer."""
        try:
            scorer = self.module.SCORERS[q.scoring]
        except KeyError:
            raise EvalSetError(f"{q.id}: score.py has no scorer {q.scoring!r}") from None
        corpus = self._corpora.get(q.corpus)
        if corpus is None:
            corpus = self._corpora[q.corpus] = self.module.Corpus(q.corpus)
        metrics, primary = scorer(q.row, pred, corpus)
        return float(metrics[primary]), {k: float(v) for k, v in metrics.items()}


def _import_scorer(script: Path) -> ModuleType:
    if not script.is_file():
        raise EvalSetError(f"no scorer at {script}; pass --eval-dir (or --scorer) pointing at the pack")
    name = f"_reporlm_eval_score_{abs(hash(str(script)))}"
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise EvalSetError(f"cannot import the scorer {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if not hasattr(module, "SCORERS") or not hasattr(module, "Corpus"):
        raise EvalSetError(f"{script} is not the pack's scorer (no SCORERS or Corpus)")
    return module
