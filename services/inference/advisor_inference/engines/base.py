"""The engine interface the gateway talks to, and the plain data that crosses it.

Engines know models by name: the base alias, each loaded adapter's name, and an optional merged
model's name. They tokenize and check lengths themselves (only they know the tokenizer), so a
prompt that does not fit is refused by `generate`/`stream` before any token is produced.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

FinishReason = Literal["stop", "length"]
# OpenAI's ceiling for `top_logprobs` (vLLM's default `--max-logprobs` is the same).
MAX_TOP_LOGPROBS = 20


@dataclass(frozen=True)
class SamplingParams:
    """Per-request decoding settings; `max_tokens=None` means "as many as the context allows"."""

    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    # Keep generating past end-of-sequence (vLLM's `ignore_eos`): fixed-length benchmarks.
    ignore_eos: bool = False
    # Report each generated token's log-probability, and the `top_logprobs` most likely
    # alternatives at its position (OpenAI's `logprobs` / `top_logprobs`).
    logprobs: bool = False
    top_logprobs: int = 0
    # OpenAI's penalties on the tokens generated so far: each logit minus
    # `frequency_penalty * count + presence_penalty * (count > 0)`.
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    # `(token id, bias)` pairs added to the logits before choosing (OpenAI's `logit_bias`).
    logit_bias: tuple[tuple[int, float], ...] = ()
    # OpenAI's `response_format` when it asks for JSON (engines with structured output only).
    response_format: dict[str, Any] | None = None
    # Completions asked for at once (OpenAI's `n`); engines with `native_n` return them all.
    n: int = 1

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @property
    def adjusts_logits(self) -> bool:
        """Whether the logits are changed before the token is chosen."""
        return bool(self.presence_penalty or self.frequency_penalty or self.logit_bias)


@dataclass(frozen=True)
class GenerationRequest:
    """One chat completion for one model name: `messages` are `{"role", "content"}` dicts."""

    model: str
    messages: list[dict[str, str]]
    params: SamplingParams = field(default_factory=SamplingParams)


@dataclass(frozen=True)
class TopLogprob:
    """One candidate token at a position: its text, natural-log probability and UTF-8 bytes
    (a token may hold part of a character, so `bytes` is the exact form)."""

    token: str
    logprob: float
    bytes: list[int] | None


@dataclass(frozen=True)
class TokenLogprob:
    """A generated token with its log-probability and the most likely tokens at its position."""

    token: str
    logprob: float
    bytes: list[int] | None
    top_logprobs: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True)
class GenerationResult:
    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    # One entry per generated token when the request asked for logprobs, else None.
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass(frozen=True)
class StreamDelta:
    """A piece of streamed text; the last one carries `finish_reason` and the token counts.
    `logprobs` holds the tokens generated since the previous delta (when asked for). `index`
    is the choice it belongs to when several were asked for (`n`)."""

    text: str
    finish_reason: FinishReason | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    index: int = 0


@dataclass(frozen=True)
class EngineInfo:
    """What adapter checks compare a bundle against.

    `linear_shapes` maps module paths of the base model (e.g. `model.layers.0.self_attn.q_proj`)
    to `(out_features, in_features)`; None where the engine cannot know them.
    `chat_template_sha256` is None where the engine's template is unknown.
    """

    base_model: str
    base_fingerprint: str
    chat_template_sha256: str | None
    max_model_len: int
    linear_shapes: dict[str, tuple[int, int]] | None = None
    # Whether the engine can report token log-probabilities; the gateway refuses `logprobs`
    # with a 400 naming it where it cannot.
    logprobs: bool = False
    # Whether it constrains output to JSON (`response_format` json_object / json_schema).
    structured_output: bool = False
    # Whether one request returns `n` completions (else the gateway asks for n rows itself).
    native_n: bool = False
    # Token ids run from 0 to vocab_size - 1 (`logit_bias` is checked against it; None: the
    # engine checks it itself).
    vocab_size: int | None = None


@dataclass(frozen=True)
class EngineHealth:
    alive: bool
    ready: bool
    detail: str = ""


@runtime_checkable
class Engine(Protocol):
    """What every engine provides. `start` may take long (model load); `health` says when done."""

    @property
    def info(self) -> EngineInfo: ...

    def models(self) -> list[str]:
        """Model names the engine can serve right now."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def generate(self, request: GenerationRequest) -> GenerationResult: ...

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        """Validate the request, then return an iterator of deltas (errors raise before)."""
        ...

    async def load_adapter(self, name: str, path: Path) -> None: ...

    async def unload_adapter(self, name: str) -> None: ...

    async def health(self) -> EngineHealth: ...
