"""One request's decoding state inside the HF engine's batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..base import SamplingParams, StreamDelta, TokenLogprob
from ..text_stream import StopStringFilter
from .sampling import StepLogprobs

BASE_INSTANCE = "base"
MERGED_INSTANCE = "merged"

Sink = Callable[[StreamDelta | BaseException], None]
RenderLogprobs = Callable[[list[StepLogprobs]], tuple[TokenLogprob, ...]]


def no_logprobs(steps: list[StepLogprobs]) -> tuple[TokenLogprob, ...]:
    raise RuntimeError("this sequence was created without a way to render logprobs")


@dataclass(eq=False)
class Sequence:
    """A prompt being decoded. `emit` is thread-safe: the scheduler thread calls it."""

    prompt_ids: list[int]
    params: SamplingParams
    max_new_tokens: int
    emit: Sink
    generator: torch.Generator
    instance: str = BASE_INSTANCE
    adapter: str | None = None
    generated: list[int] = field(default_factory=list)
    stop_filter: StopStringFilter = field(default_factory=StopStringFilter)
    cancelled: bool = False
    finished: bool = False
    # With `params.logprobs`: the steps not yet sent with a delta, and how to render them.
    pending_logprobs: list[StepLogprobs] = field(default_factory=list)
    render_logprobs: RenderLogprobs = no_logprobs

    def take_logprobs(self) -> tuple[TokenLogprob, ...] | None:
        """The rendered logprobs of the tokens since the last delta (None when not asked for)."""
        if not self.params.logprobs:
            return None
        steps, self.pending_logprobs = self.pending_logprobs, []
        return self.render_logprobs(steps)

    @property
    def done(self) -> bool:
        return self.finished or self.cancelled
