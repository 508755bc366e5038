"""Benchmarks: speed and memory suites, and the quality harness.

- `python -m bench` runs every speed/memory suite (each module exposing ``async def run_all()``)
  and prints one table of figures next to their targets and same-run references.
- `python -m bench.quality` asks the evaluation pack's questions in one mode (rlm, direct,
  retrieval) and scores them; `python -m bench.report DIR ...` compares runs in a table and a chart.
"""
