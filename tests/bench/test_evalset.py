"""Sampling, the answer format each scorer needs, reading the answer back, the pack's scorer, and the
contexts of the one-call baselines."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from bench.baselines import Index, chunk, direct_context, retrieval_context, terms
from bench.corpora import ensure_corpus, load_manifest
from bench.evalset import (
    DEFAULT_EVAL_DIR,
    Question,
    Scorer,
    answer_section,
    default_sets,
    load_questions,
    prediction,
    prompt_for,
    select,
)
from evalpack_helpers import QUESTIONS, TinyPack, real_scorer

from reporlm.workspace import Repo


def q(qid: str, corpus: str, kind: str, scoring: str = "set-f1", gold: object = ()) -> Question:
    return Question(qid, corpus, kind, scoring, f"question {qid}", {"gold": list(gold)})


def test_select_takes_per_kind_in_id_order_and_interleaves_kinds() -> None:
    pool = [q(f"{c}-{k}-{i}", c, k) for c in ("a-1", "b-2") for k in ("needle", "callers") for i in (3, 1, 2)]
    chosen = select(pool, per_kind=2)
    assert len(chosen) == 8
    # First every group's first question (kinds in the pack's order), then every group's second.
    assert [x.id for x in chosen[:4]] == ["a-1-callers-1", "b-2-callers-1", "a-1-needle-1", "b-2-needle-1"]
    assert {x.id for x in chosen[4:]} == {"a-1-callers-2", "b-2-callers-2", "a-1-needle-2", "b-2-needle-2"}
    assert [x.id for x in select(pool, per_kind=1, corpora=["b"], kinds=["needle"])] == ["b-2-needle-1"]
    assert [x.id for x in select(pool, corpora=["a-1"], limit=3)] == [
        "a-1-callers-1",
        "a-1-needle-1",
        "a-1-callers-2",
    ]
    assert select(pool, per_kind=2) == chosen  # the same sample every time


def test_each_kind_asks_for_the_shape_its_scorer_reads() -> None:
    shapes = {
        q("1", "c", "where_defined", "exact-location"): "ANSWER:\n<path>:<line>",
        q("2", "c", "needle", "exact-name"): "ANSWER:\n<path>::<QualifiedName>",
        q("3", "c", "callers"): "ANSWER:\n<path>::<QualifiedName>\n<path>::<QualifiedName>\n...",
        q("4", "c", "importers"): "ANSWER:\n<path>\n<path>\n...",
        q("5", "c", "other", gold=["a.py::f"]): "<path>::<QualifiedName>\n<path>::<QualifiedName>",
        q("6", "c", "other", gold=["a.py"]): "ANSWER:\n<path>\n<path>\n...",
    }
    for question, shape in shapes.items():
        prompt = prompt_for(question)
        assert (prompt.startswith(question.text) and prompt.endswith("...")) or prompt.endswith(">")
        assert shape in prompt


@pytest.mark.parametrize(
    ("reply", "section"),
    [
        ("It is at a.py:3.\n\nANSWER:\nsrc/a.py:3", "src/a.py:3"),
        ("ANSWER: src/a.py:3", "src/a.py:3"),
        ("**Answer:**\n- src/a.py\n- src/b.py\n\nI also looked at src/c.py.", "- src/a.py\n- src/b.py"),
        ("Answer:\n```\nsrc/a.py::f\n```\nsrc/c.py", "src/a.py::f"),
        ("ANSWER:\nx.py\nlater, a better one:\nANSWER:\ny.py", "y.py"),
        ("The answer: it is src/a.py", None),
        ("no marker", None),
    ],
)
def test_answer_section(reply: str, section: str | None) -> None:
    assert answer_section(reply) == section


def test_prediction_keeps_stray_paths_out_of_a_set() -> None:
    question = Question("x", "c", "importers", "set-f1", "q", {})
    reply = "I checked src/a.py and src/z.py.\nANSWER:\nsrc/a.py"
    assert prediction(question, reply) == {"id": "x", "answer_text": "src/a.py"}
    # Without the marker the whole reply goes to the scorer's own free-text extraction.
    assert prediction(question, "see src/a.py") == {"id": "x", "answer_text": "see src/a.py"}


def test_the_real_pack_scores_its_own_gold_as_one() -> None:
    pack = DEFAULT_EVAL_DIR
    scorer = Scorer(real_scorer())
    rows = select(load_questions(default_sets(pack)), per_kind=1, corpora=["requests"])
    assert {r.kind for r in rows} == {
        "where_defined",
        "callers",
        "subclasses",
        "env_read",
        "needle",
        "importers",
    }
    for row in rows:
        gold = row.row["gold"]
        if row.scoring == "exact-location":
            text = f"ANSWER:\n{gold['path']}:{gold['line']}"
        elif row.scoring == "exact-name":
            text = f"ANSWER:\n{gold}"
        else:
            text = "ANSWER:\n" + "\n".join(gold)
        score, _ = scorer.score(row, prediction(row, f"Some prose naming src/requests/api.py.\n{text}"))
        assert score == 1.0, row.id
        assert scorer.score(row, None)[0] == 0.0


def test_the_scorer_reads_file_lists_from_the_pack_given(tiny_pack: TinyPack) -> None:
    scorer = Scorer(tiny_pack.scorer, tiny_pack.pack)
    (where,) = [x for x in load_questions([tiny_pack.questions]) if x.kind == "where_defined"]
    # A bare file name counts only when it is unique in files/<corpus>.txt of *this* pack.
    assert scorer.score(where, {"id": where.id, "answer_text": "core.py:4"})[0] == 1.0
    assert scorer.score(where, {"id": where.id, "answer_text": "tinylib/cli.py:4"})[0] == 0.0


@pytest.mark.usefixtures("bm25s")
def test_terms_split_code_names() -> None:
    assert terms("RequestsWarning merge_cookies the os.environ") == [
        "requestswarning", "requests", "warning", "merge_cookies", "merge", "cookies", "os", "environ",
    ]  # fmt: skip


def test_chunks_end_at_definitions_and_cover_every_line() -> None:
    lines = ["import os", ""] + [f"def f{i}():" if i % 40 == 0 else "    x = 1" for i in range(200)]
    pieces = chunk("m.py", lines)
    assert pieces[0].start == 1 and pieces[-1].end == len(lines)
    assert all(a.end + 1 == b.start for a, b in itertools.pairwise(pieces))
    assert all(p.end - p.start < 60 for p in pieces)
    assert all(lines[p.start - 1].startswith("def ") for p in pieces[1:])


@pytest.mark.usefixtures("bm25s")
def test_direct_shows_whole_files_and_retrieval_chunks(tiny_pack: TinyPack) -> None:
    repo = ensure_corpus(load_manifest(tiny_pack.pack)["tinylib-1.0"], tiny_pack.cache, pip=["false"])
    index = Index(Repo(repo), ["tinylib"])
    question = QUESTIONS[0]["question"]
    direct = direct_context(index, question, 10_000)
    assert direct.files_shown == direct.files_total == 5
    # The library's own files first (best match leading), then the rest.
    assert all(p.startswith("tinylib/") for p in direct.pieces[:3])
    assert sorted(p.split(":")[0] for p in direct.pieces[3:]) == ["PKG-INFO", "tests/test_core.py"]
    assert "4: def helper(x):" in direct.text
    top = index.ranked_files(question)[0]
    assert direct.pieces[0] == top.label
    # A window too small for the best file shows its first lines rather than nothing.
    small = direct_context(index, question, top.tokens_est - 5)
    assert len(small.pieces) == 1 and small.tokens_est <= top.tokens_est - 5
    path, lines = small.pieces[0].split(":")
    assert path == top.path and lines.startswith("1-") and int(lines[2:]) < top.end
    retrieval = retrieval_context(index, question, 10_000)
    assert retrieval.pieces and all(":" in p for p in retrieval.pieces)
    assert retrieval.pieces == [c.label for c in index.ranked_chunks(question)]  # best first
    # A chunk sharing no term with the question is never shown.
    assert "PKG-INFO:1-3" not in retrieval_context(index, "which function calls helper", 10_000).pieces
    assert retrieval_context(index, question, 5).pieces == []


def test_load_questions_names_a_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    from bench.evalset import EvalSetError

    with pytest.raises(EvalSetError, match=r"bad.jsonl:1: not a question row"):
        load_questions([bad])
