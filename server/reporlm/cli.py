"""`reporlm ask` and friends.

Exit codes a CI job can branch on: 0 answered, 1 partial answer (a budget ran out),
2 usage or configuration error, 3 model provider error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from platformdirs import user_cache_path
from rich.console import Console

from reporlm import __version__
from reporlm.app import open_session
from reporlm.config import ConfigError, load_settings
from reporlm.console import StatusLine, VerboseView
from reporlm.engine.result import RunResult
from reporlm.llm.base import ProviderError
from reporlm.llm.local import LocalUnavailable
from reporlm.sandbox import SandboxUnavailable

EXIT_ANSWERED, EXIT_PARTIAL, EXIT_USAGE, EXIT_PROVIDER = 0, 1, 2, 3

log = logging.getLogger("reporlm")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.run(args)
    except ConfigError as exc:
        print(f"reporlm: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LocalUnavailable as exc:
        print(f"reporlm: the embedded model cannot run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SandboxUnavailable as exc:
        print(f"reporlm: the code sandbox cannot start here: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ProviderError as exc:
        print(f"reporlm: the model provider failed: {exc}", file=sys.stderr)
        return EXIT_PROVIDER
    except KeyboardInterrupt:
        print("reporlm: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reporlm", description="Ask questions about a whole code repository."
    )
    parser.add_argument("--version", action="version", version=f"reporlm {__version__}")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command")

    ask = sub.add_parser("ask", help="answer a question about a repository")
    ask.add_argument("question")
    ask.add_argument("--repo", default=".", help="the repository folder (default: the current folder)")
    ask.add_argument("--scope", help="limit the question to this folder of the repository")
    ask.add_argument(
        "--provider",
        choices=["anthropic", "openai", "local"],
        help="default: anthropic when ANTHROPIC_API_KEY is set, else the embedded local model",
    )
    ask.add_argument("--model", help="the root model")
    ask.add_argument("--sub-model", help="the model llm_query calls (a cheaper reader)")
    ask.add_argument("--base-url", help="an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    ask.add_argument("--api-key-file", help="read the API key from this file instead of the environment")
    ask.add_argument("--max-iterations", type=int, help="root turns (default 30)")
    ask.add_argument("--max-sub-calls", type=int, help="llm_query calls and child runs (default 200)")
    ask.add_argument("--max-cost", type=float, help="dollars across all calls (default 5.0)")
    ask.add_argument("--max-seconds", type=float, help="wall-clock for the whole run (default 1800)")
    ask.add_argument("--max-depth", type=int, help="rlm_query nesting (default 1)")
    ask.add_argument("--block-seconds", type=float, help="wall-clock limit of one code block (default 60)")
    ask.add_argument("--json", action="store_true", help="print the full result as JSON")
    ask.add_argument(
        "--trace", type=Path, help="write the trace (JSONL) here (default: the user cache folder)"
    )
    ask.add_argument("-v", "--verbose", action="store_true", help="print the trace live on stderr")
    ask.set_defaults(run=_ask)
    return parser


def _ask(args: argparse.Namespace) -> int:
    limits = {
        "max_iterations": args.max_iterations,
        "max_sub_calls": args.max_sub_calls,
        "max_cost_usd": args.max_cost,
        "max_seconds": args.max_seconds,
        "max_depth": args.max_depth,
    }
    overrides: dict[str, Any] = {
        "provider": args.provider,
        "model": args.model,
        "sub_model": args.sub_model,
        "base_url": args.base_url,
        "api_key_file": args.api_key_file,
        "block_seconds": args.block_seconds,
        "limits": {k: v for k, v in limits.items() if v is not None},
    }
    repo = Path(args.repo).expanduser()
    settings = load_settings(repo if repo.is_dir() else None, overrides=overrides)
    trace_file = args.trace or default_trace_file()
    result = asyncio.run(_run_ask(args, settings, repo, trace_file))
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print(render_markdown(result))
    return EXIT_PARTIAL if result.partial else EXIT_ANSWERED


async def _run_ask(args: argparse.Namespace, settings: Any, repo: Path, trace_file: Path) -> RunResult:
    console = Console(stderr=True)
    session = open_session(settings, repo)
    listeners: list[Any] = []
    status_cm: Any = nullcontext()
    if args.verbose:
        listeners.append(VerboseView(console))
    elif console.is_terminal:
        status_cm = console.status("starting")
    async with session:
        with status_cm as status:
            if status is not None:
                listeners.append(StatusLine(status))
            return await session.ask(
                args.question, scope=args.scope, trace_file=trace_file, listeners=listeners
            )


def default_trace_file() -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return user_cache_path("reporlm") / "traces" / f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl"


def render_markdown(result: RunResult) -> str:
    """The answer, then what was checked: a footer a person or a CI comment can read."""
    lines = [result.answer.rstrip(), "", "---"]
    verified = [c for c in result.citations if c.verified]
    lines.append(
        f"Citations: {len(verified)} verified"
        + (f", {len(result.unverified)} not verified" if result.unverified else "")
    )
    for c in result.unverified:
        lines.append(f"- not verified: `{c.label()}` ({c.reason})")
    if result.partial:
        lines.append(f"**Partial answer**: the run stopped ({result.reason}) before a final answer.")
    usage = result.usage
    cost = f", ${usage.cost_usd:.4f}" if usage.cost_usd else ""
    lines.append(
        f"_{result.iterations} iterations, {result.sub_calls} sub-calls, "
        f"{usage.input_tokens:,} in / {usage.output_tokens:,} out tokens{cost}, {result.seconds:.0f}s; "
        f"trace: {result.trace_file}_"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
