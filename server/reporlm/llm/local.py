"""The embedded model: a GGUF file run in-process by llama-cpp-python.

llama.cpp is CPU-bound and not reentrant, so every call runs on one dedicated worker thread: calls
are serialized, the event loop never blocks, and a call cancelled while still queued never runs. A
call cancelled while running stops at the next check: between two batches of its prompt, or between
two generated tokens.

Loaded models are kept for the client's life, because llama.cpp reuses the KV cache of the prefix a
call shares with the previous call on the same context (the engine only appends to a conversation).
A root conversation and the unrelated sub-calls in between would evict each other's cache on a single
context (a 1.4K-token follow-up turn: ~1.3 s warm, ~22 s after one sub-call on the 0.5B model), so a
model gets up to ``slots`` contexts, and each call goes to the one that holds its conversation. The
contexts share the memory-mapped weights; each adds only its KV cache.

Across processes, the state after each message marked ``cache=True`` (the system prompt and worked
example every question starts with) is saved to the prefix cache (``prefix_cache.py``); a call whose
conversation starts with a saved prefix loads it instead of computing it. The prompt is always
evaluated in batches that end at those boundaries, whether or not the cache is on, so a loaded prefix
gives bit-for-bit the answer a computed one gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import io
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reporlm.cache_dir import cache_root
from reporlm.llm.base import Completion, Message, ProviderError, Usage
from reporlm.llm.prefix_cache import PrefixCache, file_sha256
from reporlm.llm.weights import MODELS, WeightsError, ensure_weights

log = logging.getLogger(__name__)
_native_log = logging.getLogger("reporlm.llm.llama_cpp")

_INSTALL_HINT = (
    "the local model needs llama-cpp-python; install the extra with "
    "CMAKE_ARGS=-DGGML_NATIVE=OFF pip install 'reporlm[local]'"
)

DEFAULT_N_BATCH = 512
"""Prompt tokens per llama.cpp batch, and so the longest a cancelled call keeps computing its prompt."""
DEFAULT_PREFIX_CACHE_MB = 1024.0
_LOAD_MIN_TOKENS = 32
"""Load a saved prefix only when it spares at least this many tokens over what the context holds."""

_log_callback: Any = None  # keeps the ctypes callback alive for as long as llama.cpp may call it


class LocalUnavailable(ProviderError):
    """llama-cpp-python or the model weights are not installed."""


class LocalCancelled(ProviderError):
    """The call was stopped (its caller gave up, or the client closed) before it finished."""


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise LocalUnavailable(f"{_INSTALL_HINT} ({exc})") from exc
    _route_native_logs(llama_cpp)
    return llama_cpp


def _route_native_logs(llama_cpp: Any) -> None:
    """Send llama.cpp's own log lines to ``logging`` instead of the process's stdout/stderr."""
    global _log_callback
    if _log_callback is not None:
        return

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        try:
            line = text.decode("utf-8", "replace").rstrip()
            if line:
                # ggml levels: 1 debug, 2 info, 3 warn, 4 error. Its warnings mostly restate choices
                # made here (context size, threads) or quirks of the GGUF, so only errors surface.
                _native_log.log(logging.WARNING if level == 4 else logging.DEBUG, "%s", line)
        except Exception:
            pass  # an exception must never unwind into C

    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    _log_callback = callback


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


Turn = tuple[str, str]  # (role, content)


@dataclass
class Generated:
    text: str
    tokens: int
    finish_reason: str | None
    first_token_at: float | None
    """``time.perf_counter()`` when the first token was sampled; None when none was."""


class LlamaContext:
    """One llama.cpp context over a model file: the only code here that touches llama-cpp-python.

    It renders a conversation with the model's own chat template, tokenizes, evaluates tokens,
    copies the KV state of its one sequence out and back in, and generates. ``LocalClient``'s logic
    is tested against a stand-in with these methods; this class against the real model.
    """

    def __init__(
        self,
        llama_cpp: Any,
        path: Path,
        *,
        n_ctx: int,
        n_threads: int,
        n_threads_batch: int,
        n_batch: int,
    ) -> None:
        self._llama_cpp = llama_cpp
        # verbose=False would make llama-cpp-python point file descriptors 1 and 2 at /dev/null while
        # it loads, swallowing whatever another thread writes to stdout meanwhile (the LSP stream).
        # So keep it verbose, with native logs routed to logging and its Python prints captured.
        captured = io.StringIO()
        with contextlib.redirect_stderr(captured):
            self.llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_batch=n_batch,
                n_ubatch=n_batch,
                n_threads=n_threads,
                n_threads_batch=n_threads_batch,
                verbose=True,
            )
        self.llm.verbose = False  # no per-call timing prints from here on
        for line in captured.getvalue().splitlines():
            _native_log.debug("%s", line)
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            self.llm.close()
            raise ProviderError(f"local: {path.name} has no chat template in its metadata")
        eos_id = self.llm.token_eos()
        bos_id = self.llm.token_bos()
        self.eos = self.llm._model.token_get_text(eos_id) if eos_id != -1 else ""
        bos = self.llm._model.token_get_text(bos_id) if bos_id != -1 else ""
        formatter = llama_cpp.llama_chat_format.Jinja2ChatFormatter
        self._chat = formatter(template=template, eos_token=self.eos, bos_token=bos)
        self._prefix = formatter(
            template=template, eos_token=self.eos, bos_token=bos, add_generation_prompt=False
        )

    @property
    def tokens(self) -> list[int]:
        """What the KV cache holds."""
        return self.llm.input_ids[: self.llm.n_tokens].tolist()

    def fingerprint(self) -> dict[str, Any]:
        """The settings a saved state must have been computed under to be loaded here."""
        params = self.llm.context_params
        return {
            "llama_cpp": self._llama_cpp.__version__,
            "n_ctx": self.llm.n_ctx(),
            "n_batch": params.n_batch,
            "n_ubatch": params.n_ubatch,
            "type_k": params.type_k,
            "type_v": params.type_v,
            "flash_attn": params.flash_attn_type,
        }

    def render(self, turns: Sequence[Turn], *, generation_prompt: bool) -> str:
        formatter = self._chat if generation_prompt else self._prefix
        messages = [{"role": role, "content": content} for role, content in turns]
        return formatter(messages=messages).prompt

    def tokenize(self, text: str) -> list[int]:
        # As llama-cpp-python's chat handler does: the template writes the special tokens itself.
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def keep(self, n: int) -> None:
        """Drop what the KV cache holds past its first ``n`` tokens."""
        self.llm._ctx.kv_cache_seq_rm(-1, n, -1)
        self.llm.n_tokens = n

    def eval(self, tokens: Sequence[int]) -> None:
        self.llm.eval(tokens)

    def save_state(self) -> bytes:
        """The KV cells of what the context holds (sequence 0; no logits, no sampler state)."""
        lib = self._llama_cpp
        size = lib.llama_state_seq_get_size(self.llm.ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = lib.llama_state_seq_get_data(self.llm.ctx, buffer, size, 0)
        if written != size:
            raise ProviderError(f"local: copying the model state gave {written} of {size} bytes")
        return bytes(buffer)

    def load_state(self, state: bytes, tokens: Sequence[int]) -> bool:
        """Replace what the context holds with a saved state of ``tokens``; False if llama.cpp refuses it."""
        self.keep(0)
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if self._llama_cpp.llama_state_seq_set_data(self.llm.ctx, buffer, len(state), 0) == 0:
            self.keep(0)
            return False
        self.llm.input_ids[: len(tokens)] = tokens
        self.llm.n_tokens = len(tokens)
        self.llm._requires_eval = True  # no logits for the last token: it must not be sampled from
        return True

    def generate(
        self, prompt: Sequence[int], *, max_tokens: int, temperature: float, should_stop: Callable[[], bool]
    ) -> Generated:
        """Complete ``prompt``, reusing what the context holds of it; stops early once ``should_stop()``."""
        first: float | None = None

        def stop(ids: Any, logits: Any) -> bool:
            nonlocal first
            if first is None:
                first = time.perf_counter()
            return should_stop()  # the end-of-turn token is caught by create_completion itself

        lib = self._llama_cpp
        # The sampling settings llama-cpp-python's create_chat_completion uses.
        response = self.llm.create_completion(
            prompt=list(prompt),
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=0.95,
            top_k=40,
            min_p=0.05,
            repeat_penalty=1.0,
            stop=[self.eos] if self.eos else [],
            stopping_criteria=lib.StoppingCriteriaList([stop]),
        )
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return Generated(
            text=choice.get("text") or "",
            tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
            first_token_at=first,
        )

    def close(self) -> None:
        self.llm.close()


@dataclass
class _Slot:
    ctx: Any
    """A ``LlamaContext`` (or a stand-in with its methods)."""
    history: tuple[Turn, ...] = ()
    """The last call's messages plus the reply: the conversation this context's KV cache holds."""
    last_used: int = 0


@dataclass
class CallStats:
    """Where one call's time went; logged, and read by the local benchmark."""

    prompt: int = 0
    reused: int = 0
    """Prompt tokens the context already held (the same conversation, or a shared start)."""
    loaded: int = 0
    """Prompt tokens whose state came from the prefix cache."""
    load_s: float = 0.0
    processed: int = 0
    prompt_s: float = 0.0
    first_token_s: float | None = None
    """From the start of the call to the first sampled token."""
    output: int = 0
    generate_s: float = 0.0
    saved: int = 0
    """Tokens of the longest prefix this call saved to the prefix cache."""

    def line(self) -> str:
        first = "-" if self.first_token_s is None else f"{self.first_token_s:.3f}"
        return (
            f"prompt={self.prompt} reused={self.reused} loaded={self.loaded} load_s={self.load_s:.3f} "
            f"processed={self.processed} prompt_s={self.prompt_s:.3f} first_token_s={first} "
            f"output={self.output} generate_s={self.generate_s:.3f} saved={self.saved}"
        )


def _shared_turns(history: Sequence[Turn], turns: Sequence[Turn]) -> int:
    n = 0
    for a, b in zip(history, turns, strict=False):
        if a != b:
            break
        n += 1
    return n


def _shared_tokens(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def pick_slot(
    histories: Sequence[Sequence[Turn]], last_used: Sequence[int], turns: Sequence[Turn], capacity: int
) -> int:
    """Index of the context to run ``turns`` on; ``len(histories)`` means "open a new one".

    A call goes to the context whose conversation it continues (all of it: a next turn, or a call
    that was stopped, asked again), or that shares at least two turns with it: a new question
    starting with the same system prompt and example reuses them (the conversation it replaces is
    over). Anything else goes to an unused context, opens one while there is room, or else takes
    the one with the shortest history (least to lose), the least recently used on ties.
    """
    if histories:
        shared = [_shared_turns(h, turns) for h in histories]
        best = max(range(len(histories)), key=lambda i: (shared[i], last_used[i]))
        if shared[best] >= 2 or 0 < shared[best] == len(histories[best]):
            return best
    for i, history in enumerate(histories):
        if not history:
            return i
    if len(histories) < capacity:
        return len(histories)
    return min(range(len(histories)), key=lambda i: (len(histories[i]), last_used[i]))


class LocalClient:
    """``ModelClient`` for an embedded GGUF model.

    ``model`` in ``complete`` is a name from ``weights.MODELS`` (assembled and verified on first use)
    or a path to a ``.gguf`` file. Greedy decoding at temperature 0. Costs nothing. ``n_threads`` is
    the CPU threads llama.cpp uses for generation and for prompt processing (default: every core this
    process may use). ``slots`` is the number of llama.cpp contexts kept per model (see the module
    docstring); 1 saves memory. ``prefix_cache`` keeps the state after messages marked ``cache=True``
    in ``prefix_cache_dir`` (default: ``prefixes`` in the user cache folder), at most
    ``prefix_cache_mb`` MB (0: no cap).
    """

    provider = "local"

    def __init__(
        self,
        n_ctx: int = 16384,
        n_threads: int | None = None,
        slots: int = 2,
        *,
        n_batch: int = DEFAULT_N_BATCH,
        prefix_cache: bool = True,
        prefix_cache_mb: float = DEFAULT_PREFIX_CACHE_MB,
        prefix_cache_dir: Path | None = None,
    ) -> None:
        if n_threads is not None and (
            isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1
        ):
            raise ValueError(f"local: n_threads must be a whole number of at least 1, not {n_threads!r}")
        self._llama_cpp = _import_llama_cpp()
        self.n_ctx = n_ctx
        # llama.cpp's default is half the cores, which leaves a 2-core machine with one thread.
        self.n_threads = _usable_cpus() if n_threads is None else n_threads
        self.n_batch = max(1, n_batch)
        self.slots = max(1, slots)
        self.prefix_cache_dir = (prefix_cache_dir or cache_root() / "prefixes") if prefix_cache else None
        self.prefix_cache_bytes = int(max(0.0, prefix_cache_mb) * 1024 * 1024)
        self._models: dict[str, list[_Slot]] = {}
        self._paths: dict[str, Path] = {}
        self._caches: dict[str, PrefixCache] = {}
        self._clock = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reporlm-llama")
        self._running: set[threading.Event] = set()
        self._closed = False
        self.last_stats: CallStats | None = None

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        max_tokens: int,
        temperature: float = 0.0,
    ) -> Completion:
        if self._closed:
            raise ProviderError("local: the client is closed")
        turns = tuple((m.role, m.content) for m in messages)
        marks = tuple(i for i, m in enumerate(messages) if m.cache)
        cancel = threading.Event()
        self._running.add(cancel)
        try:
            try:
                future = self._executor.submit(
                    self._complete, turns, marks, model, max_tokens, temperature, cancel
                )
            except RuntimeError:  # closed between the check above and here
                raise ProviderError("local: the client is closed") from None
            try:
                return await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                # The caller gave up: a queued call never starts, a running one stops at its next check.
                cancel.set()
                future.cancel()
                raise
        finally:
            self._running.discard(cancel)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for cancel in list(self._running):
            cancel.set()
        # Let a running call reach its next check, then free the models off the event loop.
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for slots in self._models.values():
                for slot in slots:
                    slot.ctx.close()
            self._models.clear()
            for cache in self._caches.values():
                cache.close()  # a short-lived process still leaves its prefixes behind

    # -- one call, on the worker thread ----------------------------------------------------

    def _complete(
        self,
        turns: tuple[Turn, ...],
        marks: tuple[int, ...],
        model: str,
        max_tokens: int,
        temperature: float,
        cancel: threading.Event,
    ) -> Completion:
        with self._lock:
            if cancel.is_set():
                raise LocalCancelled("local: the call was cancelled")
            started = time.perf_counter()
            slots = self._models.setdefault(model, [])
            if not slots:
                slots.append(_Slot(self._open(model)))
            reader = slots[0].ctx
            prompt = reader.tokenize(reader.render(turns, generation_prompt=True))
            if len(prompt) >= self.n_ctx:
                raise ProviderError(
                    f"local: the prompt has {len(prompt)} tokens, more than the context window "
                    f"(n_ctx={self.n_ctx})"
                )
            boundaries = _boundaries(reader, turns, marks, prompt)
            cache = self._cache(model, reader) if boundaries else None
            stored = [n for n in boundaries if cache is not None and cache.contains(prompt[:n])]
            slot = self._pick(model, turns)
            stats = CallStats(prompt=len(prompt))
            try:
                text, finish = self._run(
                    *(slot.ctx, prompt, boundaries, stored, cache, stats),
                    *(max_tokens, temperature, cancel, started),
                )
            except LocalCancelled:
                slot.history = turns  # the KV cache holds a prefix of this conversation
                raise
            except BaseException as exc:
                slot.ctx.keep(0)  # an unknown state: start that context afresh
                slot.history = ()
                if isinstance(exc, RuntimeError):  # llama_decode failed
                    raise ProviderError(f"local: {exc}") from exc
                raise
            slot.history = (*turns, ("assistant", text))
            self.last_stats = stats
        log.info("local call %s: %s total_s=%.3f", model, stats.line(), time.perf_counter() - started)
        usage = Usage(
            input_tokens=stats.prompt,
            output_tokens=stats.output,
            cache_read_tokens=stats.reused + stats.loaded,
            cache_write_tokens=max(0, stats.saved - stats.reused - stats.loaded),
            cost_usd=0.0,
        )
        return Completion(text=text, usage=usage, model=model, stop_reason=finish)

    def _run(
        self,
        ctx: Any,
        prompt: list[int],
        boundaries: list[int],
        stored: list[int],
        cache: PrefixCache | None,
        stats: CallStats,
        max_tokens: int,
        temperature: float,
        cancel: threading.Event,
        started: float,
    ) -> tuple[str, str | None]:
        # Never all of the prompt: its last token is evaluated again to get logits to sample from.
        held = min(_shared_tokens(ctx.tokens, prompt), len(prompt) - 1)
        position = held
        for n in sorted(stored, reverse=True):
            if n < held + _LOAD_MIN_TOKENS:
                break
            assert cache is not None
            t0 = time.perf_counter()
            state = cache.get(prompt[:n])  # None: the file was bad (and is gone) or went away
            if state is not None and ctx.load_state(state, prompt[:n]):
                stats.loaded, stats.load_s, position = n, time.perf_counter() - t0, n
                break
            if state is not None:
                log.warning("llama.cpp refused the saved state of a %d-token prefix; computing it", n)
                cache.discard(prompt[:n])
                held = 0  # a refused load leaves the context empty
            stored.remove(n)  # so it is saved again once computed
        if not stats.loaded:
            ctx.keep(held)
            stats.reused = position = held
        # Batches end at every boundary, so a prefix is computed the same way whether it is then
        # saved, loaded or neither; the last prompt token is left for generate().
        t0 = time.perf_counter()
        for end in sorted({n for n in boundaries if n > position} | {len(prompt) - 1}):
            while position < end:
                if cancel.is_set():
                    raise LocalCancelled("local: the call was cancelled")
                batch = prompt[position : min(position + self.n_batch, end)]
                ctx.eval(batch)
                position += len(batch)
            if cache is not None and end in boundaries and end not in stored:
                cache.put(prompt[:end], ctx.save_state())
                stats.saved = end
        if cancel.is_set():
            raise LocalCancelled("local: the call was cancelled")
        generated = ctx.generate(
            prompt, max_tokens=max_tokens, temperature=temperature, should_stop=cancel.is_set
        )
        done = time.perf_counter()
        if cancel.is_set():
            raise LocalCancelled("local: the call was cancelled")
        first = generated.first_token_at or done
        stats.processed = len(prompt) - stats.reused - stats.loaded
        stats.prompt_s = first - t0  # with the one prompt token generate() evaluates, and its sampling
        stats.first_token_s = first - started
        stats.output = generated.tokens
        stats.generate_s = done - first
        return generated.text, generated.finish_reason

    def _pick(self, model: str, turns: tuple[Turn, ...]) -> _Slot:
        slots = self._models[model]
        index = pick_slot([s.history for s in slots], [s.last_used for s in slots], turns, self.slots)
        if index == len(slots):
            slots.append(_Slot(self._open(model)))
        self._clock += 1
        slots[index].last_used = self._clock
        return slots[index]

    def _open(self, model: str) -> Any:
        path = self._paths.get(model) or self._resolve(model)
        self._paths[model] = path
        log.info(
            "loading %s (n_ctx=%d, threads=%d, n_batch=%d)",
            *(path.name, self.n_ctx, self.n_threads, self.n_batch),
        )
        ctx = LlamaContext(
            self._llama_cpp,
            path,
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            n_threads_batch=self.n_threads,
            n_batch=self.n_batch,
        )
        log.info("loaded %s", path.name)
        return ctx

    def _cache(self, model: str, ctx: Any) -> PrefixCache | None:
        if self.prefix_cache_dir is None:
            return None
        cache = self._caches.get(model)
        if cache is None:
            spec = MODELS.get(model)
            path = self._paths[model]
            sha256 = spec.sha256 if spec else file_sha256(path, self.prefix_cache_dir / "digests")
            fingerprint = {"model_sha256": sha256, **ctx.fingerprint()}
            cache = PrefixCache(
                self.prefix_cache_dir, fingerprint, max_bytes=self.prefix_cache_bytes, label=sha256[:12]
            )
            self._caches[model] = cache
        return cache

    @staticmethod
    def _resolve(model: str) -> Path:
        if model in MODELS:
            try:
                return ensure_weights(model)
            except WeightsError as exc:
                raise LocalUnavailable(f"local: {exc}") from exc
        path = Path(model).expanduser()
        if path.suffix == ".gguf" and path.is_file():
            return path
        raise ProviderError(
            f"local: unknown model {model!r}; use one of {', '.join(MODELS)} or a .gguf file path"
        )


def _boundaries(ctx: Any, turns: Sequence[Turn], marks: Sequence[int], prompt: Sequence[int]) -> list[int]:
    """Token counts of the marked messages' ends that are a token-prefix of the whole prompt.

    A template could render the first turns differently once more follow (or a tokenizer merge
    across the boundary): such a mark is skipped, never cached under tokens the prompt lacks.
    """
    found: set[int] = set()
    for i in marks:
        tokens = ctx.tokenize(ctx.render(turns[: i + 1], generation_prompt=False))
        n = len(tokens)
        if 0 < n < len(prompt) and list(prompt[:n]) == list(tokens):
            found.add(n)
        else:
            log.debug("message %d is marked for caching but does not end a token prefix; skipped", i)
    return sorted(found)
