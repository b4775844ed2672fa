"""The handoff ledger, `trainer_state.json` in every bundle (docs/design.md#handoff-ledger).

It holds what a new process on another machine needs to continue the run exactly where it
stopped: the global step, the schedule, the data-order seed and shape, RNG states, the
loss history, and one record per session with what really ran there (device, dtype,
backend, measured peak memory) — measured, never the card's capacity (lesson 4).
"""

from __future__ import annotations

import base64
import random
from dataclasses import asdict, dataclass, field
from typing import Any

LEDGER_FORMAT = "advisor-trainer-state/1"


@dataclass
class SessionRecord:
    """One session of the run: where it ran and what it achieved."""

    index: int
    started_at: str
    device_name: str
    device_kind: str
    compute_capability: str | None
    dtype: str
    backend: str
    optimizer: str
    first_step: int
    steps: int = 0
    wall_time_s: float = 0.0
    peak_memory: dict[str, Any] = field(default_factory=dict)
    stop_reason: str = "running"
    simulated_device: dict[str, Any] | None = None
    memory_estimate: dict[str, Any] | None = None
    resumed_from: str | None = None
    resume_mode: str | None = None
    packing: str | None = None  # the packing layout that ran ('rows', 'flat' or 'off')
    rows_per_pass: int | None = None  # packed rows per forward pass (hardware/pass_size.py)
    # Periodic bundles of this session: step, seconds the training thread spent on it
    # (`stall_s`), seconds the write and upload took (`write_s`, in the background when async).
    periodic_bundles: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class HandoffLedger:
    """The JSON-safe state of a run at a step boundary."""

    run_name: str
    base_model: str
    global_step: int
    total_steps: int
    steps_per_epoch: int
    samples_consumed: int
    tokens_consumed: int
    data_order: dict[str, Any]
    schedule: dict[str, Any]
    seeds: dict[str, int]
    training_shape: dict[str, Any]
    rng_state: dict[str, Any] = field(default_factory=dict)
    loss_history: list[dict[str, Any]] = field(default_factory=list)
    eval_history: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[SessionRecord] = field(default_factory=list)
    optimizer_saved: bool = False
    format: str = LEDGER_FORMAT

    @property
    def epoch(self) -> float:
        """Fractional epochs completed (3.0 = the end of three epochs)."""
        return self.global_step / self.steps_per_epoch if self.steps_per_epoch else 0.0

    @property
    def finished(self) -> bool:
        return self.global_step >= self.total_steps

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["epoch"] = round(self.epoch, 6)
        data["epoch_index"], data["step_in_epoch"] = divmod(
            self.global_step, max(1, self.steps_per_epoch)
        )
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HandoffLedger:
        if data.get("format") != LEDGER_FORMAT:
            raise ValueError(f"unknown trainer_state format {str(data.get('format'))[:60]!r}")
        values = {
            k: v for k, v in data.items() if k not in ("epoch", "epoch_index", "step_in_epoch")
        }
        values["sessions"] = [SessionRecord(**s) for s in data.get("sessions", [])]
        return cls(**values)


def capture_rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states as JSON-safe data (byte tensors as base64)."""
    import numpy as np
    import torch

    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(internal), "gauss": gauss},
        "numpy": _json_safe(np.random.get_state(legacy=False)),
        "torch_cpu": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode(),
    }
    if torch.cuda.is_available():
        state["torch_cuda"] = [
            base64.b64encode(s.numpy().tobytes()).decode() for s in torch.cuda.get_rng_state_all()
        ]
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore what `capture_rng_state` recorded; CUDA states only onto as many CUDA devices."""
    import numpy as np
    import torch

    if "python" in state:
        py = state["python"]
        random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    if "numpy" in state:
        np.random.set_state(state["numpy"])
    if "torch_cpu" in state:
        raw = np.frombuffer(base64.b64decode(state["torch_cpu"]), dtype=np.uint8).copy()
        torch.set_rng_state(torch.from_numpy(raw))
    cuda_states = state.get("torch_cuda")
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(
            [
                torch.from_numpy(np.frombuffer(base64.b64decode(s), dtype=np.uint8).copy())
                for s in cuda_states
            ]
        )


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
