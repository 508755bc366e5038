"""What the headless CLI shows: views of the trace stream on stderr (`-v` prints every event
readably, otherwise a one-line status), and the result on stdout as Markdown or JSON records.

The result arrives from the language server as JSON; the records here are its CLI form, with
repo-relative `path`/`start`/`end` instead of LSP Locations, as a CI script wants them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.syntax import Syntax

from reporlm.terminal import printable

NOT_SEEN = "not seen in this run"
"""The reason the engine gives a real line the run never saw (engine.citations.NOT_SEEN)."""

Event = dict[str, Any]


class VerboseView:
    """Prints each trace event as it happens, indented by recursion depth."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, event: Event) -> None:
        event = _printable(event)  # questions, code, output and errors: model and repository text
        kind, pad = event["kind"], "  " * int(event.get("depth", 0))
        stamp = f"[dim]{event['t']:7.1f}s[/dim] {pad}"
        show = self.console.print
        if kind == "run_start":
            show(
                f"{stamp}[bold]run[/bold] {escape(event['question'][:200])} "
                f"[dim](root {event['root_model']}, reader {event['sub_model']}, "
                f"prompt {event['prompt']})[/dim]"
            )
        elif kind == "iteration":
            show(f"{stamp}[bold cyan]iteration {event['n']}/{event['max']}[/bold cyan]")
        elif kind == "model_call":
            cost = f", ${event['cost_usd']:.4f}" if event.get("cost_usd") else ""
            show(
                f"{stamp}[magenta]model[/magenta] {event['input_tokens']} in / "
                f"{event['output_tokens']} out tokens, "
                f"{event['seconds']}s{cost}"
            )
        elif kind == "code":
            show(
                Syntax(
                    event["code"].rstrip(),
                    "python",
                    theme="ansi_dark",
                    line_numbers=False,
                    padding=(0, 0, 0, 4),
                )
            )
        elif kind == "output":
            flag = " [red]killed[/red]" if event.get("killed") else ""
            err = f" [red]{escape(event['error'])}[/red]" if event.get("error") else ""
            show(
                f"{stamp}[green]output[/green] {event['chars']} chars in {event['seconds']}s{flag}{err}: "
                f"[dim]{escape(event['preview'][:300])}[/dim]"
            )
        elif kind in ("subcall_start", "subcall_end", "child_start", "child_end", "nudge", "error"):
            details = ", ".join(
                f"{k}={v}" for k, v in event.items() if k not in {"v", "run", "seq", "t", "depth", "kind"}
            )
            style = {"error": "red", "nudge": "yellow"}.get(kind, "blue")
            show(f"{stamp}[{style}]{kind.replace('_', ' ')}[/{style}] [dim]{escape(details[:300])}[/dim]")
        elif kind == "final":
            state = "[yellow]partial[/yellow]" if event["partial"] else "[green]answered[/green]"
            show(
                f"{stamp}{state} ({event['reason']}); citations verified: {len(event['citations'])}, "
                f"not verified: {len(event['unverified'])}"
            )
        elif kind == "run_end":
            cost = f", ${event['cost_usd']:.4f}" if event.get("cost_usd") else ""
            show(
                f"{stamp}[bold]done[/bold] {event['iterations']} iterations, {event['sub_calls']} sub-calls, "
                f"{event['input_tokens']} in / {event['output_tokens']} out tokens{cost}, {event['seconds']}s"
            )


def _printable(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_printable(item) for item in value]
    return value


class StatusLine:
    """A spinner with the current step, for people watching a terminal without -v."""

    def __init__(self, status: Status) -> None:
        self.status = status
        self.iteration = "starting"
        self.sub_calls = 0
        self.tokens = 0

    def __call__(self, event: Event) -> None:
        kind = event["kind"]
        if kind == "iteration" and event.get("depth", 0) == 0:
            self.iteration = f"iteration {event['n']}/{event['max']}"
        elif kind == "subcall_start":
            self.sub_calls += 1
        elif kind in ("model_call", "subcall_end"):
            self.tokens += int(event.get("input_tokens", 0)) + int(event.get("output_tokens", 0))
        step = {
            "model_call": "running code",
            "code": "running code",
            "output": "thinking",
            "subcall_start": "reading",
            "child_start": "helper exploring",
        }.get(kind, "thinking")
        self.status.update(f"{self.iteration} · {self.sub_calls} sub-calls · {self.tokens:,} tokens · {step}")


# -- the result ----------------------------------------------------------------------------------

_RUN_KEYS = ("partial", "reason", "iterations", "sub_calls", "usage", "seconds", "trace_id", "trace_file")


def answer_record(result: dict[str, Any]) -> dict[str, Any]:
    """An ask result as `reporlm ask --json` prints it (`citations`: every place cited, checked)."""
    return {
        "answer": result["answer"],
        **{k: result.get(k) for k in _RUN_KEYS[:2]},
        "citations": result.get("cited", []),
        **{k: result.get(k) for k in _RUN_KEYS[2:]},
    }


def plan_record(result: dict[str, Any], repo: Path) -> dict[str, Any]:
    """A plan result as `reporlm plan --json` prints it: steps and risks with their places."""
    root = repo.resolve()

    def item(raw: dict[str, Any]) -> dict[str, Any]:
        return {
            "title": raw["title"],
            "detail": raw["detail"],
            "locations": [_place(loc, root) for loc in raw.get("locations", [])],
            "unverified": raw.get("unverified", []),
        }

    return {
        "plan": result["plan"],
        "title": result.get("title", ""),
        "summary": result.get("summary", ""),
        "steps": [item(step) for step in result.get("steps", [])],
        "risks": [item(risk) for risk in result.get("risks", [])],
        **{k: result.get(k) for k in _RUN_KEYS[:2]},
        "citations": result.get("cited", []),
        **{k: result.get(k) for k in _RUN_KEYS[2:]},
    }


def render_answer(record: dict[str, Any]) -> str:
    """The answer, then what was checked: a footer a person or a CI comment can read."""
    lines = [record["answer"].rstrip(), "", "---"]
    cited = record.get("citations", [])
    verified = [c for c in cited if c["verified"]]
    unseen = [c for c in cited if not c["verified"] and c.get("reason") == NOT_SEEN]
    unverified = [c for c in cited if not c["verified"] and c.get("reason") != NOT_SEEN]
    if not cited:
        lines.append("Citations: none (no `path:line` in the answer)")
    else:
        lines.append(
            f"Citations: {len(verified)} verified"
            + (f", {len(unseen)} not seen (real lines the run never looked at)" if unseen else "")
            + (f", {len(unverified)} not verified" if unverified else "")
        )
    lines += [f"- not seen: `{_label(c)}`" for c in unseen]
    lines += [f"- not verified: `{_label(c)}` ({c['reason']})" for c in unverified]
    lines += _footer(record)
    return "\n".join(lines)


def render_plan(record: dict[str, Any]) -> str:
    """The plan, then which of the places it names were found and which were not."""
    lines = [record["plan"].rstrip(), "", "---"]
    items = [("step", i, s) for i, s in enumerate(record["steps"], 1)]
    items += [("risk", i, r) for i, r in enumerate(record["risks"], 1)]
    found = sum(len(it["locations"]) for _, _, it in items)
    missing = [(kind, i, it, u) for kind, i, it in items for u in it["unverified"]]
    lines.append(
        f"Plan: {len(record['steps'])} steps, {len(record['risks'])} risks; places checked: {found} found"
        + (f", {len(missing)} not found" if missing else "")
    )
    lines += [
        f"- not found ({kind} {i}, {it['title']}): `{u['text']}` ({u['reason']})"
        for kind, i, it, u in missing
    ]
    lines += _footer(record)
    return "\n".join(lines)


def _footer(record: dict[str, Any]) -> list[str]:
    lines = []
    if record.get("partial"):
        lines.append(f"**Partial answer**: the run stopped ({record.get('reason')}) before a final answer.")
    total = (record.get("usage") or {}).get("total") or {}
    cost = f", ${total['cost_usd']:.4f}" if total.get("cost_usd") else ""
    lines.append(
        f"_{record.get('iterations', 0)} iterations, {record.get('sub_calls', 0)} sub-calls, "
        f"{total.get('input_tokens', 0):,} in / {total.get('output_tokens', 0):,} out tokens{cost}, "
        f"{record.get('seconds') or 0:.0f}s; trace: {record.get('trace_file')}_"
    )
    return lines


def _label(c: dict[str, Any]) -> str:
    return f"{c['path']}:{c['start']}" + (f"-{c['end']}" if c["end"] != c["start"] else "")


def _place(location: dict[str, Any], root: Path) -> dict[str, Any]:
    from pygls.uris import to_fs_path

    path = Path(to_fs_path(location["uri"]) or "")
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = str(path)
    rng = location["range"]
    start, end = rng["start"]["line"] + 1, rng["end"]["line"] + 1
    return {"path": rel, "start": start, "end": end}
