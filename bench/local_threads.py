"""Thread and batch settings of the embedded model, measured rather than guessed.

    python -m bench.local_threads [--models qwen2.5-coder-0.5b,qwen2.5-coder-1.5b] [--reps 2]

For each model: prompt processing (tokens/s over a 1,024-token prompt) for every ``n_batch`` ×
``n_threads_batch``, and generation (tokens/s over 64 greedy tokens after a 256-token prompt) for
every ``n_threads``. Threads are switched on one context (``llama_set_n_threads``); ``n_batch`` needs a
context of its own. Best of ``--reps`` runs, so a neighbour's burst does not decide. It needs a quiet
machine: it reports the load average next to the table. Not part of ``python -m bench`` (it needs the
models and minutes of every core).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from reporlm.llm.local import LlamaContext, _import_llama_cpp, _usable_cpus
from reporlm.llm.weights import ensure_weights

BATCHES = (64, 128, 256, 512)
PROMPT_TOKENS = 1024
GENERATED = 64
_TEXT = Path(__file__).resolve().parent.parent / "README.md"


def _threads() -> tuple[int, ...]:
    cpus = _usable_cpus()
    return tuple(sorted({1, max(1, cpus // 2), cpus, cpus + 1, 2 * cpus}))


def _prompt(ctx: LlamaContext, n: int) -> list[int]:
    tokens = ctx.tokenize(_TEXT.read_text("utf-8"))
    while len(tokens) < n:
        tokens += tokens
    return tokens[:n]


def _prompt_rate(ctx: LlamaContext, tokens: list[int], threads_batch: int, reps: int) -> float:
    ctx.llm._ctx.set_n_threads(2, threads_batch)
    best = 0.0
    for _ in range(reps):
        ctx.keep(0)
        started = time.perf_counter()
        ctx.eval(tokens)
        best = max(best, len(tokens) / (time.perf_counter() - started))
    return best


def _generation_rate(ctx: LlamaContext, threads: int, threads_batch: int, reps: int) -> float:
    ctx.llm._ctx.set_n_threads(threads, threads_batch)
    turns = [("user", "Count from 1 to 500, separated by spaces, nothing else.\n" + "x " * 200)]
    prompt = ctx.tokenize(ctx.render(turns, generation_prompt=True))
    best = 0.0
    for _ in range(reps):
        ctx.keep(0)
        ctx.eval(prompt[:-1])
        out = ctx.generate(prompt, max_tokens=GENERATED, temperature=0.0, should_stop=lambda: False)
        done = time.perf_counter()
        if out.first_token_at is not None and out.tokens > 1:
            best = max(best, (out.tokens - 1) / (done - out.first_token_at))
    return best


def measure(model: str, reps: int) -> dict[str, Any]:
    """Threads for prompts at the largest batch, then batch sizes at the best threads, then generation."""
    llama_cpp = _import_llama_cpp()
    path = ensure_weights(model)
    threads = _threads()

    def context(n_batch: int) -> LlamaContext:
        return LlamaContext(llama_cpp, path, n_ctx=2048, n_threads=2, n_threads_batch=2, n_batch=n_batch)

    by_threads: dict[int, float] = {}
    by_batch: dict[int, float] = {}
    generation: dict[int, float] = {}
    ctx = context(max(BATCHES))
    tokens = _prompt(ctx, PROMPT_TOKENS)
    for tb in threads:
        by_threads[tb] = _prompt_rate(ctx, tokens, tb, reps)
    best_tb = max(threads, key=by_threads.__getitem__)
    by_batch[max(BATCHES)] = by_threads[best_tb]
    for t in threads:
        generation[t] = _generation_rate(ctx, t, best_tb, reps)
    ctx.close()
    for n_batch in BATCHES[:-1]:
        ctx = context(n_batch)
        by_batch[n_batch] = _prompt_rate(ctx, tokens, best_tb, reps)
        ctx.close()
    return {
        "model": model,
        "threads": threads,
        "by_threads": by_threads,
        "best_threads_batch": best_tb,
        "by_batch": by_batch,
        "generation": generation,
    }


def render(result: dict[str, Any]) -> str:
    threads = result["threads"]
    by_threads, by_batch, generation = result["by_threads"], result["by_batch"], result["generation"]
    tb = result["best_threads_batch"]
    row = " | ".join
    lines = [
        f"**{result['model']}** (tokens/s; prompt: {PROMPT_TOKENS} tokens, generation: {GENERATED} tokens)",
        "",
        "| threads | " + row(str(t) for t in threads) + " |",
        "|---|" + "---|" * len(threads),
        f"| prompt (n_threads_batch, n_batch={max(BATCHES)}) | "
        + row(f"{by_threads[t]:.1f}" for t in threads)
        + " |",
        f"| generation (n_threads, n_threads_batch={tb}) | "
        + row(f"{generation[t]:.1f}" for t in threads)
        + " |",
        "",
        "| n_batch | " + row(str(b) for b in BATCHES) + " |",
        "|---|" + "---|" * len(BATCHES),
        f"| prompt (n_threads_batch={tb}) | " + row(f"{by_batch[b]:.1f}" for b in BATCHES) + " |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.local_threads", description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="qwen2.5-coder-0.5b,qwen2.5-coder-1.5b")
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args(argv)
    print(
        f"usable CPUs: {_usable_cpus()}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    for model in args.models.split(","):
        print()
        print(render(measure(model.strip(), args.reps)), flush=True)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
