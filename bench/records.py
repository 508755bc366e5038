"""The files of a quality run folder, shared by the runner (bench.quality) and the report.

run.json           what was run: mode, provider, models, the machine, every command that added to it
results.jsonl      one record per answered question, appended as each finishes (a re-asked
                   question's later record supersedes the earlier one)
predictions.jsonl  the answers in score.py's input format: `python score.py --pred` cross-checks
traces/<id>.jsonl  the trace of each question
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RUN_FILE, RESULTS_FILE, PREDICTIONS_FILE = "run.json", "results.jsonl", "predictions.jsonl"


def read_records(out: Path) -> dict[str, dict[str, Any]]:
    """The latest record of each question in ``out``."""
    records: dict[str, dict[str, Any]] = {}
    path = out / RESULTS_FILE
    if not path.is_file():
        return records
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a hard kill; that question is simply asked again
        records[record["id"]] = record
    return records


def append_record(out: Path, record: dict[str, Any]) -> None:
    """Add one record and make it durable before the next question starts."""
    with (out / RESULTS_FILE).open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_predictions(out: Path) -> Path:
    path = out / PREDICTIONS_FILE
    preds = [r["prediction"] for r in read_records(out).values() if r.get("prediction")]
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in preds), encoding="utf-8")
    return path


def read_run(out: Path) -> dict[str, Any] | None:
    path = out / RUN_FILE
    return json.loads(path.read_text("utf-8")) if path.is_file() else None
