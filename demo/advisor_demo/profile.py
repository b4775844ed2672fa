"""The sizes a demo runs at, beside the production defaults they stand in for.

The embedded profile shrinks prompts, tokens and steps so that the whole study fits in minutes
on two CPU cores; the report prints both columns so nobody mistakes one for the other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from advisor_shared.models import EMBEDDED_BASE, PRODUCTION_BASE


@dataclass(frozen=True)
class DemoProfile:
    """What one demo run trains and evaluates."""

    name: str
    base_model: str
    max_seq_len: int
    micro_batch_size: int
    gradient_accumulation_steps: int
    train_steps: int
    learning_rate: float
    # 'linear' (warm-up, then decay to 0: the paper's) or 'constant' (no decay: the adapter
    # after k steps of a longer run is the adapter of a k-step run, so one run measures a
    # curve against steps, benchmarks/study_curve.py).
    lr_scheduler: str
    warmup_ratio: float
    eval_prompts: int
    new_tokens: int
    judge_max_tokens: int
    # Share of the planned training time the first session gets before its budget forces the
    # handoff (the paper's P100 session ended after one epoch of three).
    first_session_share: float
    first_device: str | None
    second_device: str | None
    # How the first session ends when no budget is given: 'budget' (a wall-clock budget sized
    # from steps measured on this machine, the CPU demo's simulated cards: the first fine-tune,
    # with no step measured yet, is stopped by a signal after its share, the second by its
    # budget) or 'signal' (SIGTERM once it has done its share of the steps, as a preempted
    # notebook or pod is told to stop: on a GPU the start-up varies by more than the steps take,
    # so a budget would end it before its first step or after its last).
    handoff: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, **sizes: float | str | None) -> DemoProfile:
        """This profile with the given sizes replaced (None keeps the profile's own)."""
        changed: dict[str, Any] = {k: v for k, v in sizes.items() if v is not None}
        return replace(self, **changed, name=f"{self.name}-reduced" if changed else self.name)

    def with_base(self, base_model: str | None) -> DemoProfile:
        """This profile on another base model (a local folder); None keeps the profile's own."""
        return self if base_model is None else replace(self, base_model=base_model)


# Chosen from the study curve (benchmarks/results/study_curve.json, prompts 1-24 of the sample):
# 40 steps is the first checkpoint where the fine-tune's move toward its references (finding a)
# holds, and the one where the ungated arm's extra contradicted claims (finding b) did too; it
# was checked on prompts 25-50 with another training seed (study_heldout.json, docs/demo.md).
# 256 new tokens let the fine-tunes finish their answers (the base model runs on and is cut).
EMBEDDED = DemoProfile(
    name="embedded",
    base_model=EMBEDDED_BASE,
    max_seq_len=256,
    micro_batch_size=2,
    gradient_accumulation_steps=1,
    train_steps=40,
    learning_rate=1e-3,
    lr_scheduler="constant",
    warmup_ratio=0.0,
    eval_prompts=16,
    new_tokens=256,
    judge_max_tokens=96,
    first_session_share=0.45,
    first_device="p100",
    second_device="t4",
    handoff="budget",
)

# Production: the paper's recipe on a real GPU (the device profile is the real card).
GPU = DemoProfile(
    name="gpu",
    base_model=PRODUCTION_BASE,
    max_seq_len=2048,
    micro_batch_size=2,
    gradient_accumulation_steps=4,
    train_steps=0,  # 0 = three full epochs, as in the paper
    learning_rate=2e-4,
    lr_scheduler="linear",
    warmup_ratio=0.03,
    eval_prompts=50,
    new_tokens=512,
    judge_max_tokens=512,
    first_session_share=0.33,
    first_device=None,
    second_device=None,
    handoff="signal",
)

PROFILES = {p.name: p for p in (EMBEDDED, GPU)}
