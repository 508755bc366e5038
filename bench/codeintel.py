"""The code-intelligence functions alone on the pack: what the REPL offers before any model.

    python -m bench.codeintel [--corpora requests,sympy] [--out preds.jsonl]

Each question is answered by one call, mechanically, the way a competent user of the REPL would
call it, from the row's `target` (what the question names) and nothing of its wording:

    where_defined  repo.definitions(qualified name), the first one in the library's source
    callers        repo.callers(qualified name)
    subclasses     repo.subclasses(qualified name)
    importers      repo.importers(module or module.name)
    needle         repo.search(the question's quoted description), the first hit in the source

Answers are kept to the library's own source (the corpus's source roots, test files left out), as
the questions ask. The pack's score.py scores them; the table also gives each function's median
and slowest time per call (the index built beforehand). env_read has no function of its own.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.corpora import default_cache_dir, ensure_corpus, load_manifest
from bench.evalset import DEFAULT_EVAL_DIR, Question, Scorer, default_sets, load_questions, select

KINDS = ("where_defined", "callers", "subclasses", "importers", "needle")
_TEST_PATH = re.compile(r"(^|/)(tests?|benchmarks?)(/|$)|(^|/)(test_[^/]*|[^/]*_test\.py|conftest\.py)$")
_QUOTED = re.compile(r'"([^"]{8,})"')


def answer(repo: Any, q: Question, in_source: Any) -> list[Any]:
    """One question, by the one function for its kind."""
    target = str(q.row.get("target", ""))
    qualified = target.split("::", 1)[1] if "::" in target else target
    if q.kind == "where_defined":
        found = repo.definitions(qualified)
        found = [s for s in found if in_source(s.path)] or found
        return [{"path": s.path, "line": s.line} for s in found[:1]]
    if q.kind == "callers":
        return [
            f"{c.path}::{c.qualified}"
            for c in repo.callers(qualified, max_results=10_000)
            if in_source(c.path)
        ]
    if q.kind == "subclasses":
        found = repo.subclasses(qualified, max_results=10_000)
        return [f"{s.path}::{s.qualified}" for s in found if in_source(s.path)]
    if q.kind == "importers":
        return [i.path for i in repo.importers(target, max_results=10_000) if in_source(i.path)]
    if q.kind == "needle":
        quoted = _QUOTED.findall(q.text)
        query = max(quoted, key=len) if quoted else q.text
        return [f"{m.path}::{m.qualified}" for m in repo.search(query, k=50) if in_source(m.path)][:1]
    raise ValueError(f"no function answers {q.kind} questions")


def run(args: argparse.Namespace) -> int:
    from reporlm.workspace import Repo

    eval_dir: Path = args.eval_dir
    manifest = load_manifest(eval_dir)
    questions = select(load_questions(default_sets(eval_dir)), corpora=args.corpora, kinds=list(KINDS))
    scorer = Scorer(eval_dir / "score.py", eval_dir)
    repos: dict[str, Any] = {}
    scores: dict[str, list[float]] = defaultdict(list)
    seconds: dict[str, list[float]] = defaultdict(list)
    predictions = []
    for q in questions:
        corpus = manifest[q.corpus]
        repo = repos.get(q.corpus)
        if repo is None:
            repo = repos[q.corpus] = Repo(ensure_corpus(corpus, default_cache_dir()))
            repo.definitions("x")  # the index is built before anything is timed
        roots = [root.rstrip("/") + "/" for root in corpus.source_roots]

        def in_source(path: str, roots: list[str] = roots) -> bool:
            return any(path.startswith(root) for root in roots) and not _TEST_PATH.search(path)

        started = time.perf_counter()
        items = answer(repo, q, in_source)
        seconds[q.kind].append(time.perf_counter() - started)
        prediction = {"id": q.id, "answer": items}
        predictions.append(prediction)
        scores[q.kind].append(scorer.score(q, prediction)[0])
    if args.out:
        args.out.write_text("".join(json.dumps(p) + "\n" for p in predictions), encoding="utf-8")
    print("| kind | questions | score | median per call | slowest |")
    print("|---|---|---|---|---|")
    for kind in KINDS:
        if scores[kind]:
            times = seconds[kind]
            print(
                f"| {kind} | {len(scores[kind])} | {statistics.mean(scores[kind]):.3f} | "
                f"{statistics.median(times) * 1000:.1f} ms | {max(times) * 1000:.1f} ms |"
            )
    every = [s for kind in KINDS for s in scores[kind]]
    if every:
        print(f"| all | {len(every)} | {statistics.mean(every):.3f} | | |")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.codeintel", description=__doc__.split("\n\n")[0])
    p.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR, help="the evaluation pack")
    p.add_argument("--corpora", type=lambda v: v.split(","), help="corpora to ask about (default: all)")
    p.add_argument("--out", type=Path, help="write the predictions here (for score.py --pred)")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
