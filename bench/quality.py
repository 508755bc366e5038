"""The quality harness: ask the evaluation pack's questions in one mode, score every answer, keep it all.

    python -m bench.quality --mode rlm --provider anthropic --per-kind 2 --corpora requests,click \\
        --out runs/rlm-sonnet
    python -m bench.report runs/*

Modes: rlm (`reporlm ask --json`, as users run it), direct (one call, as much of the repository as
fits the window), retrieval (one call, the BM25 top chunks that fit). Every mode asks each question
in the answer format its scorer needs, and the pack's score.py scores it.

OUT holds run.json, results.jsonl, predictions.jsonl and traces/ (see bench/records.py). Running
the same command again resumes: answered questions are kept, the rest (and any that failed with an
error) are asked. Corpora are fetched once into the cache (see bench/corpora.py).

Exit status: 0 all answered, 1 some questions failed with an error, 2 usage or setup error,
130 interrupted (rerun the command to resume).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.corpora import CorpusError, default_cache_dir, ensure_corpus, load_manifest
from bench.evalset import (
    DEFAULT_EVAL_DIR,
    EvalSetError,
    Question,
    Scorer,
    answer_section,
    default_sets,
    load_questions,
    prediction,
    prompt_for,
    resolve_set,
    select,
)
from bench.modes import CONTEXT_TOKENS, MODES, Mode, Outcome, RunConfig, make_mode
from bench.records import RUN_FILE, append_record, read_records, read_run, write_predictions
from bench.report import load_runs, render_table
from reporlm.app import build_models, resolve_provider
from reporlm.config import ConfigError, Settings, load_settings
from reporlm.engine.rlm import Models

log = logging.getLogger("bench.quality")

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# What must match for a resumed run to add to the same measurement.
_SAME_RUN_KEYS = (
    "mode",
    "provider",
    "model",
    "sub_model",
    "base_url",
    "context_tokens",
    "max_tokens",
    "cli_flags",
)


class HarnessError(Exception):
    """The run cannot start: bad flags, an output folder holding another run, a missing corpus."""


class TooManyErrors(Exception):
    """Several questions in a row failed: most likely the provider or its settings, not the questions."""


@dataclass
class Plan:
    """Everything a run needs, resolved from the flags before any question is asked."""

    config: RunConfig
    questions: list[Question]
    out: Path
    repos: dict[str, Path]
    roots: dict[str, tuple[str, ...]]
    scorer: Scorer
    concurrency: int
    stop_after_errors: int


# -- the run folder -------------------------------------------------------------------------------


def start_run_file(out: Path, config: RunConfig, plan_info: dict[str, Any], argv: Sequence[str]) -> None:
    """Create run.json, or check that the run in ``out`` is this one and log this invocation."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    invocation = {"at": now, "command": shlex.join(["python", "-m", "bench.quality", *argv]), **plan_info}
    wanted = _config_json(config)
    run = read_run(out)
    if run is not None:
        differs = [k for k in _SAME_RUN_KEYS if run.get(k) != wanted.get(k)]
        if differs:
            detail = ", ".join(f"{k}: {run.get(k)!r} there, {wanted.get(k)!r} now" for k in differs)
            raise HarnessError(f"{out} holds another run ({detail}); choose another --out to start a new one")
        run.setdefault("invocations", []).append(invocation)
    else:
        run = {
            **wanted,
            "created": now,
            "machine": machine(),
            "reporlm_commit": _git_head(),
            "invocations": [invocation],
        }
    out.mkdir(parents=True, exist_ok=True)
    (out / RUN_FILE).write_text(json.dumps(run, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _config_json(config: RunConfig) -> dict[str, Any]:
    data = asdict(config)
    data["cli_flags"] = list(config.cli_flags)
    data.pop("question_timeout")
    if config.mode == "rlm":
        data.pop("context_tokens")  # the engine has its own window; only the one-call baselines fill one
        data.pop("max_tokens")
    return data


def machine() -> dict[str, Any]:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 0
    return {"cpus": cpus, "platform": platform.platform(), "python": platform.python_version()}


def _git_head() -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True
    )
    return done.stdout.strip() or None if done.returncode == 0 else None


# -- one question ---------------------------------------------------------------------------------


def make_record(
    q: Question, config: RunConfig, outcome: Outcome, out: Path, scorer: Scorer
) -> dict[str, Any]:
    pred = prediction(q, outcome.answer) if outcome.error is None else None
    score, metrics = scorer.score(q, pred)
    usage = outcome.root + outcome.sub
    trace = outcome.trace_file
    if trace and Path(trace).is_relative_to(out.resolve()):
        trace = str(Path(trace).relative_to(out.resolve()))
    return {
        "id": q.id,
        "corpus": q.corpus,
        "kind": q.kind,
        "scoring": q.scoring,
        "mode": config.mode,
        "provider": config.provider,
        "model": config.model,
        "sub_model": config.sub_model,
        "question": q.text,
        "answer": outcome.answer,
        "answer_marked": answer_section(outcome.answer) is not None,
        "prediction": pred,
        "score": score,
        "metrics": metrics,
        "tokens": {
            "root": {"input": outcome.root.input_tokens, "output": outcome.root.output_tokens},
            "sub": {"input": outcome.sub.input_tokens, "output": outcome.sub.output_tokens},
        },
        "cost_usd": usage.cost_usd,
        "seconds": round(outcome.seconds, 3),
        "iterations": outcome.iterations,
        "sub_calls": outcome.sub_calls,
        "partial": outcome.partial,
        "reason": outcome.reason,
        "trace_file": trace,
        "error": outcome.error,
        "context": outcome.context,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


async def ask_one(plan: Plan, mode: Mode, q: Question) -> dict[str, Any]:
    trace = (plan.out / "traces" / f"{q.id}.jsonl").resolve()
    trace.parent.mkdir(parents=True, exist_ok=True)
    try:
        outcome = await mode.answer(prompt_for(q), q.text, plan.repos[q.corpus], plan.roots[q.corpus], trace)
    except Exception as exc:  # one question failing must not end the run; the record says why
        log.debug("%s failed", q.id, exc_info=True)
        outcome = Outcome(error=f"{type(exc).__name__}: {exc}")
    return make_record(q, plan.config, outcome, plan.out, plan.scorer)


async def run_questions(
    plan: Plan, mode: Mode, pending: list[Question], done_before: int
) -> list[dict[str, Any]]:
    """Ask ``pending`` with at most ``plan.concurrency`` in flight, storing each record as it comes."""
    console = Console(stderr=True)
    total = done_before + len(pending)
    finished: list[dict[str, Any]] = []
    scores: list[float] = []
    errors_in_a_row = 0
    semaphore = asyncio.Semaphore(plan.concurrency)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )

    async def one(q: Question) -> None:
        nonlocal errors_in_a_row
        async with semaphore:
            record = await ask_one(plan, mode, q)
        append_record(plan.out, record)
        finished.append(record)
        scores.append(record["score"])
        progress.update(
            task, advance=1, description=f"{plan.config.mode} · mean {statistics.fmean(scores):.2f}"
        )
        flags = " partial" if record["partial"] else ""
        flags += f" ERROR {record['error']}" if record["error"] else ""
        console.print(
            f"[{done_before + len(finished)}/{total}] {q.id} score {record['score']:.2f} "
            f"{record['seconds']:.0f}s{flags}",
            markup=False,
            highlight=False,
        )
        errors_in_a_row = errors_in_a_row + 1 if record["error"] else 0
        if plan.stop_after_errors and errors_in_a_row >= plan.stop_after_errors:
            raise TooManyErrors(f"{errors_in_a_row} questions in a row failed; the last: {record['error']}")

    with progress:
        task = progress.add_task(plan.config.mode, total=total, completed=done_before)
        tasks = [asyncio.create_task(one(q)) for q in pending]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return finished


# -- setting up -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.quality",
        description="Ask the evaluation pack's questions in one mode and score the answers.",
        epilog="Rerun the same command to resume an interrupted run; bench/records.py lists its files.",
    )
    p.add_argument("--mode", required=True, choices=MODES)
    p.add_argument(
        "--out", required=True, type=Path, help="run folder: results, traces; resumes a run found there"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        help="question set: a JSONL path or a name like needle (repeatable; default: all dev sets)",
    )
    p.add_argument(
        "--eval-dir", type=Path, default=DEFAULT_EVAL_DIR, help="the evaluation pack (default: %(default)s)"
    )
    p.add_argument("--scorer", type=Path, help="score.py to use (default: the pack's)")
    p.add_argument("--corpora", help="only these corpora, comma-separated (requests or requests-2.34.2)")
    p.add_argument("--kinds", help="only these question kinds, comma-separated")
    p.add_argument("--per-kind", type=int, help="sample size: questions per kind and corpus (default: all)")
    p.add_argument("--limit", type=int, help="at most this many questions in all")
    p.add_argument(
        "--provider", choices=["anthropic", "openai", "local"], help="default: as reporlm ask chooses"
    )
    p.add_argument("--model", help="the root model (default: the provider's)")
    p.add_argument("--sub-model", help="the model llm_query calls in rlm mode (default: the provider's)")
    p.add_argument("--base-url", help="an OpenAI-compatible endpoint")
    p.add_argument(
        "--context-tokens", type=int, help="direct/retrieval: the window to fill (default: per provider)"
    )
    p.add_argument(
        "--max-tokens", type=int, default=1024, help="direct/retrieval: answer tokens (default 1024)"
    )
    p.add_argument("--max-iterations", type=int, help="rlm: root turns (reporlm ask's default if unset)")
    p.add_argument("--max-sub-calls", type=int, help="rlm: sub-calls")
    p.add_argument("--prompt-version", help="rlm: the prompts reporlm ask uses (default: its own, v2)")
    p.add_argument("--max-cost", type=float, help="rlm: dollars per question")
    p.add_argument("--max-seconds", type=float, help="rlm: wall-clock per question")
    p.add_argument(
        "--question-timeout", type=float, help="kill a question after this long (default: max-seconds + 120)"
    )
    p.add_argument(
        "--concurrency", type=int, help="questions in flight (default: 1 for the local model, else 4)"
    )
    p.add_argument(
        "--stop-after-errors", type=int, default=3, help="give up after N errors in a row (0: never)"
    )
    p.add_argument(
        "--cache", type=Path, default=default_cache_dir(), help="corpus cache (default: %(default)s)"
    )
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return p.parse_args(argv)


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def build_settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "provider": args.provider,
        "model": args.model,
        "sub_model": args.sub_model,
        "base_url": args.base_url,
    }
    return load_settings(None, overrides=overrides)


def build_config(args: argparse.Namespace, settings: Settings, models: Models) -> RunConfig:
    provider = resolve_provider(settings)
    flags: list[str] = []
    for flag, value in (
        ("--max-iterations", args.max_iterations),
        ("--max-sub-calls", args.max_sub_calls),
        ("--max-cost", args.max_cost),
        ("--max-seconds", args.max_seconds),
        ("--prompt-version", args.prompt_version),
    ):
        if value is not None:
            flags += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    timeout = args.question_timeout or (args.max_seconds or 1800.0) + 120.0
    return RunConfig(
        mode=args.mode,
        provider=provider,
        model=models.root_model,
        sub_model=models.sub_model,
        base_url=settings.base_url,
        context_tokens=args.context_tokens or CONTEXT_TOKENS.get(provider, 128_000),
        max_tokens=args.max_tokens,
        cli_flags=tuple(flags) if args.mode == "rlm" else (),
        question_timeout=timeout,
    )


def prepare_corpora(
    questions: list[Question], eval_dir: Path, cache: Path
) -> tuple[dict[str, Path], dict[str, tuple[str, ...]]]:
    manifest = load_manifest(eval_dir)
    repos: dict[str, Path] = {}
    roots: dict[str, tuple[str, ...]] = {}
    for name in sorted({q.corpus for q in questions}):
        corpus = manifest.get(name)
        if corpus is None:
            raise HarnessError(f"corpus {name} is not in {eval_dir / 'corpora.json'}")
        print(f"quality: corpus {name}", file=sys.stderr, flush=True)
        repos[name] = ensure_corpus(corpus, cache).resolve()
        roots[name] = corpus.source_roots
    return repos, roots


async def run(args: argparse.Namespace, argv: Sequence[str], models: Models | None = None) -> int:
    """The whole run; ``models`` replaces the provider's clients in the one-call modes (for tests)."""
    eval_dir = args.eval_dir.resolve()
    sets = [resolve_set(s, eval_dir) for s in args.set] or default_sets(eval_dir)
    questions = select(
        load_questions(sets),
        corpora=_split(args.corpora),
        kinds=_split(args.kinds),
        per_kind=args.per_kind,
        limit=args.limit,
    )
    if not questions:
        raise HarnessError("no question matches --set/--corpora/--kinds")
    scorer = Scorer(args.scorer or eval_dir / "score.py", eval_dir)
    settings = build_settings(args)
    models = models or build_models(settings)
    config = build_config(args, settings, models)
    out = args.out.resolve()
    sample = {
        "sets": [str(s) for s in sets],
        "corpora": _split(args.corpora),
        "kinds": _split(args.kinds),
        "per_kind": args.per_kind,
        "limit": args.limit,
        "questions": len(questions),
    }
    if config.mode == "rlm":
        await _close(models)  # the CLI subprocess builds its own
    start_run_file(out, config, sample, argv)
    repos, roots = prepare_corpora(questions, eval_dir, args.cache)

    records = read_records(out)
    pending = [q for q in questions if q.id not in records or records[q.id].get("error")]
    done_before = len(questions) - len(pending)
    concurrency = args.concurrency or (1 if config.provider == "local" else 4)
    print(
        f"quality: {config.mode} with {config.provider}:{config.model} on {len(questions)} questions "
        f"({done_before} already answered in {out}), {concurrency} at a time",
        file=sys.stderr,
        flush=True,
    )
    plan = Plan(config, questions, out, repos, roots, scorer, concurrency, args.stop_after_errors)
    mode = make_mode(config, settings, models if config.mode != "rlm" else None)
    stopped = None
    try:
        await run_questions(plan, mode, pending, done_before)
    except TooManyErrors as exc:
        stopped = str(exc)
    finally:
        await mode.aclose()
        write_predictions(out)
    final = read_records(out)
    errors = sum(1 for q in questions if final.get(q.id, {}).get("error"))
    print(render_table(load_runs([out])))
    if stopped:
        print(f"quality: stopped: {stopped}", file=sys.stderr)
    if errors:
        print(
            f"quality: {errors} question(s) failed with an error; rerun the command to retry them",
            file=sys.stderr,
        )
    return EXIT_ERRORS if errors else EXIT_OK


async def _close(models: Models) -> None:
    for client in {id(c): c for c in (models.root, models.sub)}.values():
        await client.aclose()


async def _main(args: argparse.Namespace, argv: Sequence[str]) -> int:
    # Ctrl-C or SIGTERM (a `kill`, a CI timeout) ends the run cleanly: children stopped, records kept.
    # The embedded model cannot be stopped mid-call, so a second signal quits at once instead of
    # waiting for it; every finished question is already on disk.
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            print("quality: stopped at once; rerun the same command to resume", file=sys.stderr, flush=True)
            os._exit(EXIT_INTERRUPTED)
        print("quality: stopping (signal again to quit at once)", file=sys.stderr, flush=True)
        if task is not None:
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    return await run(args, argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return asyncio.run(_main(args, argv))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"quality: interrupted; rerun the same command to resume from {args.out}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (HarnessError, EvalSetError, CorpusError, ConfigError) as exc:
        print(f"quality: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
