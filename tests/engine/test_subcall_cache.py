"""The sub-call cache keeps a server's answers within its size cap, least recently used out first."""

from __future__ import annotations

from pathlib import Path

from reporlm.config import load_settings
from reporlm.engine.subcall_cache import SubcallCache


def test_answers_past_the_cap_go_least_recently_used_first() -> None:
    cache = SubcallCache(max_mb=0.001)  # 1,048 characters
    for i in range(3):
        cache[("m", f"prompt {i} " + "x" * 300)] = "answer"
    assert len(cache) == 3 and cache.size <= cache.max_bytes
    _ = cache[("m", "prompt 0 " + "x" * 300)]  # used again: now the most recent
    cache[("m", "prompt 3 " + "x" * 300)] = "answer"
    assert ("m", "prompt 1 " + "x" * 300) not in cache, "the least recently used went"
    assert ("m", "prompt 0 " + "x" * 300) in cache and cache.size <= cache.max_bytes


def test_one_answer_bigger_than_the_cap_is_not_kept_and_a_smaller_cap_applies_at_once() -> None:
    cache = SubcallCache(max_mb=0.001)
    cache[("m", "p")] = "a" * 5000
    assert len(cache) == 0 and cache.size == 0
    cache[("m", "p")] = "a"
    cache.resize(0)
    assert len(cache) == 0
    cache[("m", "p")] = "again"  # replacing an answer counts its size once
    big = SubcallCache()
    big[("m", "p")] = "one"
    big[("m", "p")] = "two"
    assert len(big) == 1 and big.size == len("m") + len("p") + len("two")


def test_the_cap_is_a_setting(tmp_path: Path) -> None:
    assert load_settings(None, env={}).subcall_cache_mb == 64.0
    assert load_settings(None, env={"REPORLM_SUBCALL_CACHE_MB": "8"}).subcall_cache_mb == 8.0
    (tmp_path / ".reporlm.toml").write_text("subcall_cache_mb = 100000\n")
    assert load_settings(tmp_path, env={}).subcall_cache_mb == 64.0, "a repository does not size it"
