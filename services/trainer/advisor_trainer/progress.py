"""What the training loop reports as it goes; the CLI draws it, the worker stores it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class StepReport:
    step: int
    total_steps: int
    epoch: float
    loss: float
    lr: float
    grad_norm: float
    tokens: int
    step_time_s: float
    tokens_per_s: float
    eta_s: float
    session_left_s: float | None


class ProgressSink(Protocol):
    def on_start(self, info: dict[str, Any]) -> None: ...

    def on_step(self, report: StepReport) -> None: ...

    def on_event(self, message: str) -> None: ...


class SilentProgress:
    """A sink that reports nothing (library default); events still go to the logger."""

    def on_start(self, info: dict[str, Any]) -> None:
        return None

    def on_step(self, report: StepReport) -> None:
        return None

    def on_event(self, message: str) -> None:
        return None
