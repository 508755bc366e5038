"""Performance benchmarks and (later) the quality harness. Run `python -m bench` for every figure."""
