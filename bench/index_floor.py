"""Where the time of a cold symbol index goes, against universal-ctags on the same tree.

    python -m bench.index_floor [CORPUS ...]      # sympy and psutil by default

Not a suite of `python -m bench` (no run_all): it explains the cold-index figure of
bench.workspace rather than adding one. CPU seconds (user + system) are measured in this one
process, one step after another, so a busy machine inflates them less than wall time:

- universal-ctags -R on the tree (the reference, one core);
- tree-sitter parsing of every file the index parses, and one pass of the tags query over
  each tree, timed apart file by file; beside it, one pass of a query that matches nothing,
  which is what walking a tree costs whatever the patterns;
- the whole per-file work (parse, query, tags, hash), as a worker does it;
- the cold index itself (the indexing thread and its worker processes), with its wall time.

Parsing plus one query pass, spread over every core, is the least an index built on tree-sitter
parses and a tags query can cost; its ratio to ctags CPU is printed as the floor. The per-file
work spread over every core is the floor of this index as written in Python (the tags of each
match are read through Python objects), before any storing, pickling or process start-up.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.workspace import corpora


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def breakdown(name: str, tree: Path) -> list[str]:
    from tree_sitter import Query, QueryCursor

    from reporlm.workspace import Repo
    from reporlm.workspace.grammars import load_grammars
    from reporlm.workspace.index import MAX_INDEX_BYTES, parse_content

    ctags = shutil.which("ctags")
    if ctags is None:
        return [f"{name}: universal-ctags is missing (apt-get install universal-ctags)"]
    with tempfile.TemporaryDirectory() as tmp:
        before, started = _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run([ctags, "-R", "-f", f"{tmp}/tags", "--exclude=.git", str(tree)], check=True)
        ctags_cpu, ctags_wall = _cpu(resource.RUSAGE_CHILDREN) - before, time.perf_counter() - started

    grammars = load_grammars()
    files = [(path, grammars.for_path(path)) for path in Repo(tree, persist_index=False).files()]
    sources = [
        ((tree / path).read_bytes(), grammar)
        for path, grammar in files
        if grammar is not None and (tree / path).stat().st_size <= MAX_INDEX_BYTES
    ]
    for _, grammar in sources:  # compiled before timing, as a worker does once
        grammar.tags_query()
    # A query with one pattern no tree holds: the cursor still visits every node.
    empty = {g.key: Query(g.language(), "(ERROR (ERROR (ERROR)))") for _, g in sources}
    # File by file, as the index does: a tree is queried while it is still in the caches.
    parse_cpu = query_cpu = walk_cpu = 0.0
    for data, grammar in sources:
        before = time.process_time()
        parsed = grammar.parser().parse(data)
        middle = time.process_time()
        QueryCursor(grammar.tags_query()[0]).matches(parsed.root_node)
        after = time.process_time()
        QueryCursor(empty[grammar.key]).matches(parsed.root_node)
        parse_cpu += middle - before
        query_cpu += after - middle
        walk_cpu += time.process_time() - after
    before = _cpu(resource.RUSAGE_SELF)
    for data, grammar in sources:
        parse_content(data, grammar.key, grammars)
    work_cpu = _cpu(resource.RUSAGE_SELF) - before

    with tempfile.TemporaryDirectory() as cache:
        repo = Repo(tree, cache_dir=cache)
        repo.files()
        own, children = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        repo.definitions("x")
        wall = time.perf_counter() - started
        own, children = _cpu(resource.RUSAGE_SELF) - own, _cpu(resource.RUSAGE_CHILDREN) - children
        repo.close()

    cores = len(os.sched_getaffinity(0))
    floor = (parse_cpu + query_cpu) / cores
    megabytes = sum(len(data) for data, _ in sources) / 1e6

    def times_ctags(seconds: float) -> str:
        return f"{seconds / ctags_cpu:.1f}× ctags CPU"

    return [
        f"{name}: {len(sources):,} files parsed, {megabytes:.1f} MB; {cores} cores, "
        f"load {os.getloadavg()[0]:.1f}",
        f"  universal-ctags -R           CPU {ctags_cpu:6.2f} s   wall {ctags_wall:6.2f} s",
        f"  tree-sitter parse alone      CPU {parse_cpu:6.2f} s   {times_ctags(parse_cpu)}",
        f"  one tags query pass          CPU {query_cpu:6.2f} s   {times_ctags(query_cpu)}",
        f"    of which walking the tree  CPU {walk_cpu:6.2f} s   (a query that matches nothing)",
        f"  all per-file work            CPU {work_cpu:6.2f} s   {times_ctags(work_cpu)}",
        f"  cold index                   CPU {own + children:6.2f} s   (indexing thread {own:.2f}, "
        f"workers {children:.2f}); wall {wall:.2f} s = {wall / ctags_wall:.1f}× ctags wall",
        f"  floor: (parse + query) / {cores} cores = {floor:.2f} s = {floor / ctags_cpu:.1f}× ctags CPU",
        f"  floor: per-file work / {cores} cores = {work_cpu / cores:.2f} s = "
        f"{work_cpu / cores / ctags_cpu:.1f}× ctags CPU",
    ]


def main(names: list[str]) -> None:
    for name, tree in corpora():
        if not names or name in names:
            print("\n".join(breakdown(name, tree)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
