"""The embedded model: a GGUF file run in-process by llama-cpp-python.

llama.cpp is CPU-bound and not reentrant, so every call runs on one dedicated worker thread: calls
are serialized, the event loop never blocks, and a call cancelled while still queued never runs.
Loaded models are kept for the client's life, because llama.cpp reuses the KV cache of the prefix a
call shares with the previous call on the same ``Llama`` (the engine only appends to a conversation).
A root conversation and the unrelated sub-calls in between would evict each other's cache on a single
``Llama`` (a 1.4K-token follow-up turn: ~1.3 s warm, ~22 s after one sub-call on the 0.5B model), so a
model gets up to ``slots`` contexts, and each call goes to the one that holds its conversation. The
contexts share the memory-mapped weights; each adds only its KV cache.
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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reporlm.llm.base import Completion, Message, ProviderError, Usage
from reporlm.llm.weights import MODELS, WeightsError, ensure_weights

log = logging.getLogger(__name__)
_native_log = logging.getLogger("reporlm.llm.llama_cpp")

_INSTALL_HINT = (
    "the local model needs llama-cpp-python; install the extra with "
    "CMAKE_ARGS=-DGGML_NATIVE=OFF pip install 'reporlm[local]'"
)

_log_callback: Any = None  # keeps the ctypes callback alive for as long as llama.cpp may call it


class LocalUnavailable(ProviderError):
    """llama-cpp-python or the model weights are not installed."""


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
class _Slot:
    llm: Any
    history: tuple[Turn, ...] = ()
    """The last call's messages plus the reply: what this context's KV cache holds."""
    last_used: int = 0


def _shared_turns(history: Sequence[Turn], turns: Sequence[Turn]) -> int:
    n = 0
    for a, b in zip(history, turns, strict=False):
        if a != b:
            break
        n += 1
    return n


def pick_slot(
    histories: Sequence[Sequence[Turn]], last_used: Sequence[int], turns: Sequence[Turn], capacity: int
) -> int:
    """Index of the context to run ``turns`` on; ``len(histories)`` means "open a new one".

    A call that continues a conversation (shares at least its system prompt and first question)
    goes where that conversation is cached. Anything else opens a context while there is room, or
    else takes the one with the shortest history (least to lose), the least recently used on ties.
    """
    if histories:
        shared = [_shared_turns(h, turns) for h in histories]
        best = max(range(len(histories)), key=lambda i: (shared[i], last_used[i]))
        if shared[best] >= 2:
            return best
    if len(histories) < capacity:
        return len(histories)
    return min(range(len(histories)), key=lambda i: (len(histories[i]), last_used[i]))


class LocalClient:
    """``ModelClient`` for an embedded GGUF model.

    ``model`` in ``complete`` is a name from ``weights.MODELS`` (assembled and verified on first use)
    or a path to a ``.gguf`` file. Greedy decoding at temperature 0. Costs nothing. ``n_threads`` is
    the CPU threads llama.cpp uses for generation and for prompt processing (default: every core this
    process may use). ``slots`` is the number of llama.cpp contexts kept per model (see the module
    docstring); 1 saves memory.
    """

    provider = "local"

    def __init__(self, n_ctx: int = 16384, n_threads: int | None = None, slots: int = 2) -> None:
        if n_threads is not None and (
            isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1
        ):
            raise ValueError(f"local: n_threads must be a whole number of at least 1, not {n_threads!r}")
        self._llama_cpp = _import_llama_cpp()
        self.n_ctx = n_ctx
        # llama.cpp's default is half the cores, which leaves a 2-core machine with one thread.
        self.n_threads = _usable_cpus() if n_threads is None else n_threads
        self.slots = max(1, slots)
        self._models: dict[str, list[_Slot]] = {}
        self._paths: dict[str, Path] = {}
        self._clock = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reporlm-llama")
        self._closed = False

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
        loop = asyncio.get_running_loop()
        turns = tuple((m.role, m.content) for m in messages)
        return await loop.run_in_executor(
            self._executor, self._complete, turns, model, max_tokens, temperature
        )

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Let a running generation finish, then free the models off the event loop.
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for slots in self._models.values():
                for slot in slots:
                    slot.llm.close()
            self._models.clear()

    def _complete(
        self, turns: tuple[Turn, ...], model: str, max_tokens: int, temperature: float
    ) -> Completion:
        with self._lock:
            slot = self._slot_for(model, turns)
            started = time.perf_counter()
            try:
                response = slot.llm.create_chat_completion(
                    messages=[{"role": role, "content": content} for role, content in turns],
                    max_tokens=max_tokens,
                    temperature=temperature,
                )
            except ValueError as exc:
                # Raised when the conversation plus the answer do not fit the context window.
                slot.history = ()
                raise ProviderError(f"local: {exc} (n_ctx={self.n_ctx})") from exc
            choice = response["choices"][0]
            text = choice["message"].get("content") or ""
            slot.history = (*turns, ("assistant", text))
        raw = response.get("usage") or {}
        usage = Usage(
            input_tokens=raw.get("prompt_tokens", 0),
            output_tokens=raw.get("completion_tokens", 0),
            cost_usd=0.0,
        )
        log.debug(
            "local %s: %d in, %d out, %.1fs",
            model,
            usage.input_tokens,
            usage.output_tokens,
            time.perf_counter() - started,
        )
        return Completion(text=text, usage=usage, model=model, stop_reason=choice.get("finish_reason"))

    def _slot_for(self, model: str, turns: tuple[Turn, ...]) -> _Slot:
        slots = self._models.setdefault(model, [])
        index = pick_slot([s.history for s in slots], [s.last_used for s in slots], turns, self.slots)
        if index == len(slots):
            slots.append(_Slot(self._load(model)))
        self._clock += 1
        slots[index].last_used = self._clock
        return slots[index]

    def _load(self, model: str) -> Any:
        path = self._paths.get(model) or self._resolve(model)
        self._paths[model] = path
        log.info("loading %s (n_ctx=%d, threads=%d)", path.name, self.n_ctx, self.n_threads)
        # verbose=False would make llama-cpp-python point file descriptors 1 and 2 at /dev/null while
        # it loads, swallowing whatever another thread writes to stdout meanwhile (the LSP stream).
        # So keep it verbose, with native logs routed to logging and its Python prints captured.
        captured = io.StringIO()
        with contextlib.redirect_stderr(captured):
            llm = self._llama_cpp.Llama(
                model_path=str(path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                verbose=True,
            )
        llm.verbose = False  # no per-call timing prints from here on
        for line in captured.getvalue().splitlines():
            _native_log.debug("%s", line)
        log.info("loaded %s with chat format %s", path.name, llm.chat_format)
        return llm

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
