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

    def on_bundle(self, ref: str, step: int) -> None:
        """A bundle was committed (called from the training thread, after the upload)."""

    def on_event(self, message: str) -> None: ...


class SilentProgress:
    """A sink that reports nothing (library default); events still go to the logger."""

    def on_start(self, info: dict[str, Any]) -> None:
        return None

    def on_step(self, report: StepReport) -> None:
        return None

    def on_bundle(self, ref: str, step: int) -> None:
        return None

    def on_event(self, message: str) -> None:
        return None


def format_duration(seconds: float | None) -> str:
    """`1h02m03s`, `4m05s`; `-` when unknown."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return (
        f"{hours}h{rest // 60:02d}m{rest % 60:02d}s" if hours else f"{rest // 60}m{rest % 60:02d}s"
    )


def step_line(report: StepReport) -> str:
    """One step as the CLI and the worker's log show it."""
    return (
        f"step {report.step}/{report.total_steps} epoch {report.epoch:.2f} loss {report.loss:.4f} "
        f"lr {report.lr:.2e} {report.tokens_per_s:,.0f} tok/s ETA {format_duration(report.eta_s)} "
        f"session left {format_duration(report.session_left_s)}"
    )
