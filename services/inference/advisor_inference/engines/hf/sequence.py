"""One request's decoding state inside the HF engine's batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..base import SamplingParams, StreamDelta
from ..text_stream import StopStringFilter

BASE_INSTANCE = "base"
MERGED_INSTANCE = "merged"

Sink = Callable[[StreamDelta | BaseException], None]


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

    @property
    def done(self) -> bool:
        return self.finished or self.cancelled
