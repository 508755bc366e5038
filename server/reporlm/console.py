"""Terminal views of the trace stream: `-v` prints every event readably; otherwise a one-line status.

Everything here writes to stderr: stdout carries only the answer (Markdown or JSON).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.syntax import Syntax

Event = dict[str, Any]


class VerboseView:
    """Prints each trace event as it happens, indented by recursion depth."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, event: Event) -> None:
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
