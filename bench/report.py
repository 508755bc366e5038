"""One table (and a chart) comparing quality runs: `python -m bench.report DIR [DIR ...] [--chart PNG]`.

Rows are mode × model; runs of the same mode and models in several folders are pooled. Columns: the
mean score per question kind (its number of questions in brackets), the overall mean over questions
with a 95% bootstrap interval, median tokens per question (in + out, root and sub-calls), cost,
median seconds per question, the share of partial answers, and questions that failed with an error
(they score 0, as a missing answer does in score.py).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.evalset import KINDS
from bench.records import RUN_FILE, read_records, read_run

_MODE_ORDER = {"rlm": 0, "direct": 1, "retrieval": 2}


@dataclass
class Run:
    """The records of one mode × model, pooled over the folders that hold it."""

    mode: str
    provider: str
    model: str
    sub_model: str
    prompt: str = ""
    """rlm: the prompt version its `reporlm ask` used (--prompt-version), "" when not given."""
    folders: list[Path] = field(default_factory=list)
    info: list[dict[str, Any]] = field(default_factory=list)
    """run.json of each folder."""
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        mode = f"rlm (prompt {self.prompt})" if self.mode == "rlm" and self.prompt else self.mode
        if self.mode == "rlm" and self.sub_model and self.sub_model != self.model:
            return f"{mode} · {self.model} + {self.sub_model}"
        return f"{mode} · {self.model}"


@dataclass(frozen=True)
class Summary:
    label: str
    n: int
    kinds: dict[str, tuple[float, int, tuple[float, float]]]
    """kind -> (mean score, questions, 95% interval)."""
    overall: float
    interval: tuple[float, float]
    median_tokens: float
    cost_usd: float | None
    """Total over the questions; None when any call had no known price."""
    median_seconds: float
    median_turns: float
    partial: float
    errors: int


def load_runs(folders: Iterable[Path]) -> list[Run]:
    runs: dict[tuple[str, str, str, str, str], Run] = {}
    for folder in folders:
        folder = Path(folder)
        info = read_run(folder)
        if info is None:
            raise SystemExit(f"report: {folder} holds no quality run (no {RUN_FILE})")
        key = (info["mode"], info["provider"], info["model"], info.get("sub_model", ""), _prompt(info))
        run = runs.setdefault(key, Run(*key))
        run.folders.append(folder)
        run.info.append(info)
        run.records.update(read_records(folder))
    return sorted(runs.values(), key=lambda r: (r.model, _MODE_ORDER.get(r.mode, 9), r.sub_model, r.prompt))


def _prompt(info: dict[str, Any]) -> str:
    flags = list(info.get("cli_flags") or [])
    if info.get("mode") == "rlm" and "--prompt-version" in flags[:-1]:
        return str(flags[flags.index("--prompt-version") + 1])
    return ""


def bootstrap_interval(
    values: Sequence[float], *, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap of the mean: fine for scores in [0, 1], binary or F1, at any n ≥ 1."""
    if not values:
        return (0.0, 0.0)
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    cut = (1 - level) / 2
    return means[int(cut * (resamples - 1))], means[int((1 - cut) * (resamples - 1))]


def _tokens(record: dict[str, Any]) -> int:
    t = record.get("tokens", {})
    return sum(int(part.get("input", 0)) + int(part.get("output", 0)) for part in t.values())


def summarize(run: Run) -> Summary:
    records = list(run.records.values())
    scores = [float(r["score"]) for r in records]
    kinds: dict[str, tuple[float, int, tuple[float, float]]] = {}
    for kind in sorted({r["kind"] for r in records}, key=lambda k: (KINDS.index(k) if k in KINDS else 99, k)):
        values = [float(r["score"]) for r in records if r["kind"] == kind]
        kinds[kind] = (statistics.fmean(values), len(values), bootstrap_interval(values))
    costs = [r.get("cost_usd") for r in records]
    answered = [r for r in records if not r.get("error")]
    return Summary(
        label=run.label,
        n=len(records),
        kinds=kinds,
        overall=statistics.fmean(scores) if scores else 0.0,
        interval=bootstrap_interval(scores),
        median_tokens=statistics.median([_tokens(r) for r in answered]) if answered else 0.0,
        cost_usd=None if any(c is None for c in costs) else sum(costs),  # type: ignore[arg-type]
        median_seconds=statistics.median([float(r["seconds"]) for r in answered]) if answered else 0.0,
        median_turns=statistics.median([int(r.get("iterations") or 0) for r in answered or [{}]]),
        partial=sum(1 for r in records if r.get("partial")) / len(records) if records else 0.0,
        errors=len(records) - len(answered),
    )


def _count(n: float) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else f"{n:.0f}"


def _cost(summary: Summary) -> str:
    if summary.cost_usd is None:
        return "unpriced"
    per = summary.cost_usd / summary.n if summary.n else 0.0
    return f"${summary.cost_usd:.2f} (${per:.3f}/q)"


def render_table(runs: Sequence[Run]) -> str:
    """A Markdown table, one row per mode × model."""
    summaries = [summarize(r) for r in runs]
    kinds = [k for k in KINDS if any(k in s.kinds for s in summaries)]
    kinds += sorted({k for s in summaries for k in s.kinds} - set(kinds))
    head = [
        "mode · model",
        "n",
        *kinds,
        "overall (95% CI)",
        "median tokens",
        "cost",
        "median time",
        "median turns",
        "partial",
        "errors",
    ]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for s in summaries:
        cells = [s.label, str(s.n)]
        for kind in kinds:
            mean, n, _ = s.kinds.get(kind, (0.0, 0, (0.0, 0.0)))
            cells.append(f"{mean:.2f} ({n})" if n else "–")
        lo, hi = s.interval
        cells += [
            f"**{s.overall:.2f}** [{lo:.2f}, {hi:.2f}]",
            _count(s.median_tokens),
            _cost(s),
            f"{s.median_seconds:.0f} s",
            f"{s.median_turns:g}",
            f"{s.partial:.0%}",
            str(s.errors),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_provenance(runs: Sequence[Run]) -> str:
    """Where each row came from: folder, date, machine, the exact command(s)."""
    lines = []
    for run in runs:
        for folder, info in zip(run.folders, run.info, strict=True):
            m = info.get("machine", {})
            lines.append(
                f"- {run.label}: `{folder}`, started {info.get('created', '?')}, {m.get('cpus', '?')} CPUs, "
                f"{m.get('platform', '?')}, reporlm {str(info.get('reporlm_commit') or '?')[:10]}"
            )
            lines += [f"  - `{i['command']}`" for i in info.get("invocations", [])]
    return "\n".join(lines)


def write_chart(runs: Sequence[Run], path: Path) -> Path:
    """Grouped bars: score per kind and overall for each row, with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summaries = [summarize(r) for r in runs]
    kinds = [k for k in KINDS if any(k in s.kinds for s in summaries)]
    groups = [*kinds, "overall"]
    width = 0.8 / max(1, len(summaries))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(groups) + 2), 4.8), dpi=120)
    for i, s in enumerate(summaries):
        means, lows, highs = [], [], []
        for g in groups:
            if g == "overall":
                mean, (lo, hi) = s.overall, s.interval
            elif g in s.kinds:
                mean, _, (lo, hi) = s.kinds[g]
            else:  # not asked in this run: no bar rather than a zero
                mean, lo, hi = float("nan"), float("nan"), float("nan")
            means.append(mean)
            lows.append(max(0.0, mean - lo) if mean == mean else 0.0)
            highs.append(max(0.0, hi - mean) if mean == mean else 0.0)
        xs = [j + (i - (len(summaries) - 1) / 2) * width for j in range(len(groups))]
        ax.bar(xs, means, width, yerr=[lows, highs], capsize=3, label=f"{s.label} (n={s.n})")
    ax.set_xticks(range(len(groups)), [g.replace("_", " ") for g in groups])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (primary metric of score.py)")
    ax.set_title("Quality by question kind, 95% bootstrap intervals")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(3, len(summaries)))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", type=Path, help="run folders written by python -m bench.quality")
    p.add_argument(
        "--chart", type=Path, help="the PNG to write (default: quality.png in the runs' common folder)"
    )
    p.add_argument("--no-chart", action="store_true", help="print the table only")
    p.add_argument("--json", type=Path, help="also write the summaries as JSON")
    args = p.parse_args(argv)

    runs = load_runs(args.folders)
    print(render_table(runs))
    print()
    print(render_provenance(runs))
    if args.json:
        data = [
            {"label": s.label, **{k: v for k, v in s.__dict__.items() if k != "label"}}
            for s in map(summarize, runs)
        ]
        args.json.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    if not args.no_chart:
        chart = args.chart
        if chart is None:
            folders = [f.resolve() for f in args.folders]
            common = folders[0] if len(folders) == 1 else Path(_common_path(folders))
            chart = common / "quality.png"
        print(f"\nchart: {write_chart(runs, chart)}", file=sys.stderr)
    return 0


def _common_path(paths: Sequence[Path]) -> str:
    import os.path

    return os.path.commonpath([str(p) for p in paths])


if __name__ == "__main__":
    sys.exit(main())
