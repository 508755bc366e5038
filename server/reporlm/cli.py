"""`reporlm serve | ask | plan | index`.

`ask` and `plan` start `reporlm serve` as a child process and speak LSP to it over stdio, so a CI
job runs exactly the path an editor runs. Exit codes a CI job can branch on: 0 answered, 1 partial
answer (a budget ran out), 2 usage or configuration error, 3 model provider error; 130 when
interrupted (the partial answer is still printed). `index` builds or refreshes the symbol index in
this process (see `index_cli`): 0 ready, 1 indexing failed, 2 usage error.

Heavy modules are imported inside the commands: `reporlm serve` must answer `initialize` fast.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reporlm import __version__
from reporlm.llm.registry import OFFERED
from reporlm.terminal import PrintableFilter, json_text, printable

if TYPE_CHECKING:
    from reporlm.engine.trace import JsonlWriter
    from reporlm.lsp.client import HeadlessClient

EXIT_ANSWERED, EXIT_PARTIAL, EXIT_USAGE, EXIT_PROVIDER, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

log = logging.getLogger("reporlm")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:  # a log line may quote a file name or model text
        handler.addFilter(PrintableFilter())
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from reporlm.config import ConfigError

    try:
        return int(args.run(args))
    except ConfigError as exc:  # it may quote the repository's settings file
        print(f"reporlm: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("reporlm: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reporlm", description="Ask questions about a whole code repository."
    )
    parser.add_argument("--version", action="version", version=f"reporlm {__version__}")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command")

    ask = sub.add_parser("ask", help="answer a question about a repository")
    ask.add_argument("question")
    _run_options(ask)
    ask.set_defaults(run=_ask)

    plan = sub.add_parser("plan", help="write a cross-file change plan, with every place it names checked")
    plan.add_argument("goal")
    _run_options(plan)
    plan.set_defaults(run=_plan)

    index = sub.add_parser(
        "index",
        help="build or refresh the repository's symbol index and show what it holds and skipped",
    )
    index.add_argument("--repo", default=".", help="the repository folder (default: the current folder)")
    index.add_argument("--json", action="store_true", help="print the status as one JSON object")
    index.set_defaults(run=_index)

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    transport = serve.add_mutually_exclusive_group()
    transport.add_argument("--stdio", action="store_true", help="speak LSP over stdin/stdout (the default)")
    transport.add_argument("--tcp", action="store_true", help="listen for one client on a TCP port instead")
    serve.add_argument("--host", default="127.0.0.1", help="TCP address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    serve.add_argument(
        "--folder",
        action="append",
        default=[],
        help="with --tcp: a folder clients may open (repeatable; default: the current folder)",
    )
    serve.add_argument(
        "--token-file",
        type=Path,
        help="with --tcp: where to write the token clients must send (default: the user's runtime folder)",
    )
    serve.set_defaults(run=_serve)
    return parser


# Options that take one value: (flag, type (None: text), help), in the order --help lists them.
_Values = tuple[tuple[str, Callable[[str], Any] | None, str], ...]
_ENGINE_VALUES: _Values = (
    ("--model", None, "the root model"),
    ("--sub-model", None, "the model llm_query calls (a cheaper reader)"),
    ("--base-url", None, "an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"),
    ("--api-key-file", None, "read the API key from this file instead of the environment"),
    ("--max-iterations", int, "root turns (default 30)"),
    ("--max-sub-calls", int, "llm_query calls and child runs (default 200)"),
    ("--max-cost", float, "dollars across all calls (default 5.0)"),
    ("--max-seconds", float, "wall-clock for the whole run (default 1800)"),
    ("--max-depth", int, "rlm_query nesting (default 1)"),
    ("--block-seconds", float, "wall-clock limit of one code block (default 60)"),
    ("--local-threads", int, "CPU threads of the embedded model (default: every core this process may use)"),
    ("--prompt-version", None, "the model-facing prompts to use (default v2; v1 is the earlier set)"),
)
_TRACE_VALUES: _Values = (
    ("--trace", Path, "write the trace (JSONL) here (default: the user cache folder)"),
    (
        "--trace-max-age-days",
        float,
        "remove the server's traces older than this when a run starts (default 14; 0: no limit)",
    ),
    ("--trace-max-mb", float, "then the oldest while they exceed this many MB (default 200; 0: no cap)"),
)


def _add_values(command: argparse.ArgumentParser, values: _Values) -> None:
    for flag, kind, text in values:
        command.add_argument(flag, type=kind, help=text)


def _run_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--repo", default=".", help="the repository folder (default: the current folder)")
    command.add_argument("--scope", help="limit the run to this folder of the repository")
    command.add_argument(
        "--provider",
        choices=list(OFFERED),
        help="default: anthropic when ANTHROPIC_API_KEY is set, else the embedded local model",
    )
    _add_values(command, _ENGINE_VALUES)
    command.add_argument(
        "--local-prefix-cache",
        action=argparse.BooleanOptionalAction,
        help="load and save the embedded model's state for the start every question shares (default: on)",
    )
    command.add_argument("--json", action="store_true", help="print the full result as JSON")
    _add_values(command, _TRACE_VALUES)
    command.add_argument("-v", "--verbose", action="store_true", help="print the trace live on stderr")


def _serve(args: argparse.Namespace) -> int:
    from reporlm.config import ConfigError
    from reporlm.lsp.serve import serve_stdio, serve_tcp

    if args.tcp:
        return serve_tcp(
            args.host, args.port, args.log_level, folders=args.folder, token_file=args.token_file
        )
    if args.folder or args.token_file:
        raise ConfigError(
            "--folder and --token-file are for --tcp: over stdio the client is the one that started it"
        )
    serve_stdio(args.log_level)


def _index(args: argparse.Namespace) -> int:
    from reporlm.index_cli import run_index

    return run_index(args.repo, as_json=args.json)


def _ask(args: argparse.Namespace) -> int:
    return _headless(args, "ask", {"question": args.question})


def _plan(args: argparse.Namespace) -> int:
    return _headless(args, "plan", {"goal": args.goal})


def _headless(args: argparse.Namespace, kind: str, argument: dict[str, Any]) -> int:
    """Check the flags here (fast, clear errors), then run the command on a child server."""
    from reporlm.config import ConfigError, load_settings

    overrides = _overrides(args)
    repo = Path(args.repo).expanduser()
    if not repo.is_dir():
        raise ConfigError(f"--repo {args.repo}: no such folder")
    load_settings(repo, overrides=overrides)
    if args.scope:
        argument["scope"] = args.scope
    return asyncio.run(_remote(args, kind, argument, repo, overrides))


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
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
        "api_key_file": str(Path(args.api_key_file).expanduser().resolve()) if args.api_key_file else None,
        "block_seconds": args.block_seconds,
        "local_threads": args.local_threads,
        "prompt_version": args.prompt_version,
        "local_prefix_cache": args.local_prefix_cache,
        "trace_max_age_days": args.trace_max_age_days,
        "trace_max_mb": args.trace_max_mb,
        "limits": {k: v for k, v in limits.items() if v is not None},
    }
    return {k: v for k, v in overrides.items() if v not in (None, {})}


async def _remote(
    args: argparse.Namespace, kind: str, argument: dict[str, Any], repo: Path, overrides: dict[str, Any]
) -> int:
    from pygls.exceptions import JsonRpcException

    from reporlm import console as views
    from reporlm.engine.trace import JsonlWriter
    from reporlm.lsp.client import HeadlessClient, ServerFailed

    writer = JsonlWriter(args.trace) if args.trace else None
    if writer and writer.error:  # the path cannot be opened at all: say so before any work
        print(f"reporlm: --trace {args.trace}: {writer.error}", file=sys.stderr)
        return EXIT_USAGE
    listeners, status_cm = _listeners(args, writer)
    client = HeadlessClient(on_trace=lambda event: [listen(event) for listen in listeners])
    request_id = client.new_request_id()
    interrupts = _Interrupts(lambda: client.cancel(request_id))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, interrupts)
    try:
        with status_cm as status:
            if status is not None:
                listeners.append(views.StatusLine(status))
            result = await _run_on_server(client, request_id, args.log_level, repo, overrides, kind, argument)
    except JsonRpcException as exc:  # its message may carry repository or provider text
        code = _exit_code(exc.code)
        print(f"reporlm: {printable(str(exc.message))}", file=sys.stderr)
        return code
    except ServerFailed as exc:
        print(f"reporlm: the language server failed: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        if writer:
            writer.close()  # never raises: a full disk must not cost the answer
        await client.close()
    return _print_result(args, kind, result, repo, writer.error if writer else None, interrupts.seen)


def _listeners(
    args: argparse.Namespace, writer: JsonlWriter | None
) -> tuple[list[Any], AbstractContextManager[Any]]:
    """Who sees the trace events (the trace file, the -v view), and the status line to show, if any."""
    from rich.console import Console

    from reporlm import console as views

    err = Console(stderr=True)
    listeners: list[Any] = [writer] if writer else []
    status_cm: AbstractContextManager[Any] = nullcontext()
    if args.verbose:
        listeners.append(views.VerboseView(err))
    elif err.is_terminal:
        status_cm = err.status("starting the language server")
    return listeners, status_cm


class _Interrupts:
    """Ctrl-C during a run: the first one cancels it (its partial answer still comes), a second quits."""

    def __init__(self, cancel: Callable[[], None]) -> None:
        self.cancel = cancel
        self.seen = False

    def __call__(self) -> None:
        if self.seen:  # a second Ctrl-C: stop waiting for the partial answer
            raise KeyboardInterrupt
        self.seen = True
        print("reporlm: interrupted; stopping the run (Ctrl-C again to quit now)", file=sys.stderr)
        self.cancel()


async def _run_on_server(
    client: HeadlessClient,
    request_id: str,
    log_level: str,
    repo: Path,
    overrides: dict[str, Any],
    kind: str,
    argument: dict[str, Any],
) -> dict[str, Any]:
    """Start the child server, open the repository in it and run the command there."""
    from reporlm.lsp import wire

    await client.start(client.server_command(log_level))
    await client.open(repo, overrides)
    command = {"ask": wire.ASK, "plan": wire.PLAN}[kind]
    return await client.command(command, argument, request_id=request_id)


def _print_result(
    args: argparse.Namespace,
    kind: str,
    result: dict[str, Any],
    repo: Path,
    trace_failed: str | None,
    interrupted: bool,
) -> int:
    """Print the answer or plan (and whether the trace was lost); its exit code."""
    from reporlm import console as views

    if args.trace and not trace_failed:
        result["trace_file"] = str(args.trace)
    record = views.plan_record(result, repo) if kind == "plan" else views.answer_record(result)
    # The model's and the repository's text: no control sequence reaches the terminal.
    if args.json:
        print(json_text(record))
    else:
        print(printable(views.render_plan(record) if kind == "plan" else views.render_answer(record)))
    if trace_failed:
        message = f"the trace could not be written to {args.trace}: {trace_failed}"
        print(f"reporlm: {printable(message)}", file=sys.stderr)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_PARTIAL if result.get("partial") else EXIT_ANSWERED


def _exit_code(error_code: int) -> int:
    from reporlm.lsp.wire import ErrorCodes

    return EXIT_PROVIDER if error_code in (ErrorCodes.PROVIDER, ErrorCodes.BUSY) else EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
