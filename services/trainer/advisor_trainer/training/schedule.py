"""The learning-rate schedule as a pure function of the global step.

It matches transformers' `get_linear_schedule_with_warmup`: the update that produces step
s+1 uses the multiplier of step s, so the first update of a warm-up runs at LR 0, and the
warm-up length is `ceil(warmup_ratio * total_steps)` (the paper's 284 steps x 3% = 9,
confirmed by its logged peak at step 9, docs/paper.md §2.2). Being a function of the step alone,
the schedule continues exactly after a resume.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LRSchedule:
    kind: str
    peak_lr: float
    warmup_steps: int
    total_steps: int

    @classmethod
    def build(cls, kind: str, peak_lr: float, warmup_ratio: float, total_steps: int) -> LRSchedule:
        return cls(kind, peak_lr, math.ceil(warmup_ratio * total_steps), total_steps)

    def lr_at(self, step: int) -> float:
        """Learning rate of the update taken at 0-based step `step`."""
        if step < self.warmup_steps:
            return self.peak_lr * step / max(1, self.warmup_steps)
        if self.kind == "constant":
            return self.peak_lr
        remaining = self.total_steps - step
        return self.peak_lr * max(0.0, remaining / max(1, self.total_steps - self.warmup_steps))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LRSchedule:
        return cls(
            str(data["kind"]),
            float(data["peak_lr"]),
            int(data["warmup_steps"]),
            int(data["total_steps"]),
        )
