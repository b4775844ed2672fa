"""`HFEngine`: transformers + peft in-process, dynamic batching, per-request LoRA adapters."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

from advisor_shared.chat_template import template_fingerprint, tokenizer_template

from ...errors import EngineUnavailableError, InferenceError, ModelNotFoundError
from ..base import (
    EngineHealth,
    EngineInfo,
    GenerationRequest,
    GenerationResult,
    StreamDelta,
    TokenLogprob,
)
from ..limits import completion_budget
from ..text_stream import StopStringFilter
from .runner import ModelRunner, choose_device, linear_shapes, load_causal_lm
from .sampling import make_generator
from .scheduler import BatchScheduler
from .sequence import BASE_INSTANCE, MERGED_INSTANCE, Sequence
from .static_decode import supports as static_decode_unsupported
from .token_pieces import TokenPieces

log = logging.getLogger(__name__)
# The static KV cache holds this many positions per row unless max_model_len says otherwise
# (it is allocated up front: 7B-shaped, 8 rows x 4096 positions = 4.3 GB in bf16).
STATIC_CACHE_TOKENS = 4096
DECODE_MODES = ("auto", "static", "dynamic")


class HFEngine:
    """Serves `base_alias`, every attached adapter by name, and optionally a merged model."""

    def __init__(
        self,
        base_path: str,
        *,
        base_alias: str = "base",
        base_fingerprint: str,
        merged_path: str | None = None,
        merged_name: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        max_batch_size: int = 8,
        batch_window_ms: float = 5.0,
        max_model_len: int | None = None,
        default_max_tokens: int | None = None,
        torch_threads: int | None = None,
        decode: str = "auto",
        quantization: str | None = None,
    ):
        """`decode`: "static" steps over a preallocated KV cache (CUDA graphs on a GPU; see
        static_decode), "dynamic" through transformers' forward with a growing cache, "auto"
        static on CUDA where the architecture allows it, else dynamic."""
        if decode not in DECODE_MODES:
            raise ValueError(f"decode must be one of {', '.join(DECODE_MODES)}; got {decode!r}")
        self._decode = decode
        self._quantization = quantization
        self._base_path, self._alias, self._fingerprint = base_path, base_alias, base_fingerprint
        self._merged_path, self._merged_name = merged_path, merged_name
        self._choice = choose_device(device, dtype)
        self._max_batch, self._window_s = max_batch_size, batch_window_ms / 1000
        self._max_model_len_cap = max_model_len
        self._default_max_tokens = default_max_tokens
        self._torch_threads = torch_threads
        self._tokenizer: Any = None
        self._tokenizer_lock = threading.Lock()
        self._pieces: TokenPieces | None = None
        self._scheduler: BatchScheduler | None = None
        self._info: EngineInfo | None = None
        self._configs: dict[str, Any] = {}
        self._adapters: set[str] = set()
        self._start_error: str | None = None

    @property
    def info(self) -> EngineInfo:
        if self._info is None:
            raise EngineUnavailableError("the model is still loading")
        return self._info

    @property
    def scheduler(self) -> BatchScheduler | None:
        return self._scheduler

    def models(self) -> list[str]:
        if self._info is None:
            return []
        names = [self._alias, *sorted(self._adapters)]
        return names + ([self._merged_name] if self._merged_name and self._merged_path else [])

    async def start(self) -> None:
        """Load tokenizer and weights (in a thread: it takes seconds), then start batching.
        Idempotent: an engine shared by several apps loads once."""
        if self._scheduler is not None:
            return
        self._apply_thread_count()
        try:
            await asyncio.to_thread(self._load)
        except Exception as exc:
            self._start_error = f"model load failed: {exc}"
            raise

    def _load(self) -> None:
        from transformers import AutoTokenizer

        self._apply_thread_count()
        tokenizer = AutoTokenizer.from_pretrained(self._base_path)
        base = load_causal_lm(self._base_path, self._choice, self._quantization)
        merged = load_causal_lm(self._merged_path, self._choice) if self._merged_path else None
        self._configs = {BASE_INSTANCE: base.config}
        if merged is not None:
            self._configs[MERGED_INSTANCE] = merged.config
        context = int(getattr(base.config, "max_position_embeddings", 2048))
        if self._max_model_len_cap:
            context = min(context, self._max_model_len_cap)
        runner = ModelRunner(base, merged, self._choice.device)
        if self._static_decode(base):
            context = min(context, self._max_model_len_cap or STATIC_CACHE_TOKENS)
            runner.use_static_cache(slots=self._max_batch, tokens=context)
        shapes = linear_shapes(base)
        eos = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
        configured = getattr(base.generation_config, "eos_token_id", None)
        eos |= set(configured if isinstance(configured, list) else [configured]) - {None}
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos, default=0)
        self._tokenizer = tokenizer
        self._pieces = TokenPieces(tokenizer, self._tokenizer_lock)
        self._scheduler = BatchScheduler(
            runner,
            detokenize=self._detokenize,
            pad_id=pad,
            eos_ids=eos,
            cache_config=self._configs.__getitem__,
            max_batch_size=self._max_batch,
            window_s=self._window_s,
        )
        self._scheduler.start()
        # OpenMP's thread count is per calling thread: set it where the forward passes run.
        self._scheduler.call(self._apply_thread_count).result()
        self._info = EngineInfo(
            base_model=self._base_path,
            base_fingerprint=self._fingerprint,
            chat_template_sha256=template_fingerprint(tokenizer_template(tokenizer)),
            max_model_len=context,
            linear_shapes=shapes,
            logprobs=True,
            vocab_size=int(base.config.vocab_size),
        )
        log.info(
            "HF engine ready: %s on %s (%s)", self._alias, self._choice.device, self._choice.dtype
        )

    def _static_decode(self, base: Any) -> bool:
        if self._decode == "dynamic":
            return False
        reason = static_decode_unsupported(base)
        if reason and self._decode == "static":
            raise ValueError(f"static decoding does not support {reason}")
        if reason:
            log.info(
                "decoding through transformers' forward: static decoding does not support %s",
                reason,
            )
            return False
        return self._decode == "static" or self._choice.device.type == "cuda"

    def _apply_thread_count(self) -> None:
        if self._torch_threads:
            import torch

            torch.set_num_threads(self._torch_threads)

    async def close(self) -> None:
        if self._scheduler is not None:
            await asyncio.to_thread(self._scheduler.stop)

    def _detokenize(self, ids: list[int]) -> str:
        with self._tokenizer_lock:
            return str(self._tokenizer.decode(ids, skip_special_tokens=True))

    def _encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        from jinja2 import TemplateError

        with self._tokenizer_lock:
            try:
                text = self._tokenizer.apply_chat_template(
                    messages, add_generation_prompt=True, tokenize=False
                )
            except TemplateError as exc:
                raise InferenceError(
                    f"the chat template refused these messages: {str(exc)[:200]}",
                    param="messages",
                    code="invalid_messages",
                ) from None
            return list(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _route(self, model: str) -> tuple[str, str | None]:
        if model == self._alias:
            return BASE_INSTANCE, None
        if model in self._adapters:
            return BASE_INSTANCE, model
        if self._merged_path and model == self._merged_name:
            return MERGED_INSTANCE, None
        raise ModelNotFoundError(f"the model `{model[:100]}` does not exist", param="model")

    async def stream(self, request: GenerationRequest) -> SequenceStream:
        if self._scheduler is None:
            raise EngineUnavailableError("the model is still loading", headers={"Retry-After": "5"})
        instance, adapter = self._route(request.model)
        prompt = self._encode_chat(request.messages)
        budget = completion_budget(
            len(prompt),
            request.params.max_tokens,
            self.info.max_model_len,
            self._default_max_tokens,
        )
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[StreamDelta | BaseException] = asyncio.Queue()

        def emit(item: StreamDelta | BaseException) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        sequence = Sequence(
            prompt_ids=prompt,
            params=request.params,
            max_new_tokens=budget,
            emit=emit,
            generator=make_generator(request.params.seed),
            instance=instance,
            adapter=adapter,
            stop_filter=StopStringFilter(stops=request.params.stop),
        )
        if request.params.logprobs:
            assert self._pieces is not None
            sequence.render_logprobs = self._pieces.render
        self._scheduler.submit(sequence)
        return SequenceStream(sequence, queue)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        parts: list[str] = []
        logprobs: list[TokenLogprob] = []
        stream = await self.stream(request)
        try:
            async for delta in stream:
                parts.append(delta.text)
                logprobs += delta.logprobs or ()
                if delta.finish_reason is not None:
                    return GenerationResult(
                        text="".join(parts),
                        finish_reason=delta.finish_reason,
                        prompt_tokens=delta.prompt_tokens or 0,
                        completion_tokens=delta.completion_tokens or 0,
                        logprobs=tuple(logprobs) if request.params.logprobs else None,
                    )
        finally:
            # Cancelled (the client left, the server stops): free the batch row now.
            await stream.aclose()
        raise RuntimeError("generation ended without a final delta")

    async def load_adapter(self, name: str, path: Path) -> None:
        scheduler = self._require_scheduler()
        await asyncio.wrap_future(scheduler.call(lambda: scheduler.runner.load_adapter(name, path)))
        self._adapters.add(name)

    async def unload_adapter(self, name: str) -> None:
        scheduler = self._require_scheduler()
        # Stop routing new requests first; rows already admitted finish with the adapter.
        self._adapters.discard(name)
        await asyncio.wrap_future(scheduler.unload_when_idle(name))

    async def health(self) -> EngineHealth:
        if self._start_error:
            return EngineHealth(alive=False, ready=False, detail=self._start_error)
        if self._scheduler is None:
            return EngineHealth(alive=True, ready=False, detail="loading the model")
        if not self._scheduler.alive:
            return EngineHealth(alive=False, ready=False, detail="the batching thread stopped")
        return EngineHealth(alive=True, ready=True)

    def _require_scheduler(self) -> BatchScheduler:
        if self._scheduler is None:
            raise EngineUnavailableError("the model is still loading")
        return self._scheduler


class SequenceStream:
    """The deltas of one sequence. `aclose` cancels the row even if iteration never began (a
    client that disconnects before the first chunk must not keep a batch row busy)."""

    def __init__(self, sequence: Sequence, queue: asyncio.Queue[StreamDelta | BaseException]):
        self._sequence, self._queue, self._done = sequence, queue, False

    def __aiter__(self) -> SequenceStream:
        return self

    async def __anext__(self) -> StreamDelta:
        if self._done:
            raise StopAsyncIteration
        item = await self._queue.get()
        if isinstance(item, BaseException):
            self._done = True
            raise item
        if item.finish_reason is not None:
            self._done = True
        return item

    async def aclose(self) -> None:
        self._done = True
        self._sequence.cancelled = True  # freed at the next decode step; no-op once finished
