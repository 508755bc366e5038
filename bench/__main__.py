"""Every performance benchmark in one table: `python -m bench [SUITE ...] [--json OUT] [--strict]`.

A suite is any module of this package that exposes ``async def run_all() -> list[Figure]``
(see bench/figures.py); it joins by existing, nothing is registered by hand. Suites run one after
another, never concurrently, so they do not slow each other down. A suite that crashes or cannot be
imported (a reference tool or an optional dependency missing) is reported and the others still run.

Exit status: 0, or 1 when a suite failed (with --strict: also when a figure misses its target).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import logging
import pkgutil
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

import bench
from bench.figures import Figure, render_table

log = logging.getLogger("bench")

Suite = Callable[[], Awaitable[list[Figure]]]


def suite_names() -> list[str]:
    """Modules of the bench package that may hold a suite, in name order."""
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def load_suite(name: str) -> Suite | None:
    """The module's ``run_all`` coroutine function, or None when it has none (it is not a suite)."""
    module = importlib.import_module(f"bench.{name}")
    run_all = getattr(module, "run_all", None)
    return run_all if inspect.iscoroutinefunction(run_all) else None


def run_suites(names: list[str]) -> tuple[list[Figure], dict[str, str]]:
    """Run the named suites; returns their figures and, per failed suite, what went wrong."""
    figures: list[Figure] = []
    failures: dict[str, str] = {}
    for name in names:
        try:
            suite = load_suite(name)
        except Exception as exc:
            failures[name] = f"cannot import: {type(exc).__name__}: {exc}"
            continue
        if suite is None:
            continue
        print(f"bench: running {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            found = asyncio.run(suite())
        except Exception as exc:
            log.debug("suite %s failed:\n%s", name, traceback.format_exc())
            failures[name] = f"{type(exc).__name__}: {exc}"
            continue
        seconds = time.perf_counter() - started
        print(f"bench: {name} done in {seconds:.0f} s", file=sys.stderr, flush=True)
        figures += [Figure(**{**f.to_json(), "suite": name}) for f in found]
    return figures, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="*", help="suites to run (default: all); see --list")
    parser.add_argument("--list", action="store_true", help="print the suites found and exit")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a figure misses its target")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr, format="%(levelname)s %(message)s")

    known = suite_names()
    if args.list:
        for name in known:
            try:
                is_suite = load_suite(name) is not None
            except Exception as exc:
                print(f"{name}\t(cannot import: {exc})")
                continue
            if is_suite:
                print(name)
        return 0
    unknown = [s for s in args.suites if s not in known]
    if unknown:
        parser.error(f"no such suite: {', '.join(unknown)}; found: {', '.join(known)}")

    figures, failures = run_suites(args.suites or known)
    print(render_table(figures, with_suite=True))
    for name, why in failures.items():
        print(f"\nsuite {name} failed: {why}")
    if args.json:
        payload = {"figures": [f.to_json() for f in figures], "failures": failures}
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if failures:
        return 1
    return 1 if args.strict and not all(f.ok for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
