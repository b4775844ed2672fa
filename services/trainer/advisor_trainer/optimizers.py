"""The optimizer: 8-bit AdamW on CUDA (the paper's), plain AdamW where bitsandbytes cannot run.

`flat` decides whether it runs over one flat buffer of the adapter's tensors (flat_optimizer.py:
the same update to the bit, one call a step instead of one per tensor). 'auto' flattens only
bitsandbytes on CUDA, which waits for the device after every tensor. torch's AdamW is left as
it is: on CUDA it already updates all tensors together, and on a CPU it is faster per tensor
(each small tensor stays in cache across its passes; benchmarks/results/optimizer_step_cpu.json:
94 ms per tensor against 212 ms flat for a 7B adapter)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .flat_optimizer import FlatOptimizer

# bitsandbytes keeps 32-bit state for tensors smaller than this (its own default, passed
# explicitly so the flat buffer leaves out exactly those tensors).
MIN_8BIT_SIZE = 4096


def build_optimizer(
    name: str,
    params: Iterable[Any],
    *,
    lr: float,
    weight_decay: float,
    device_kind: str,
    flat: str = "auto",
) -> tuple[Any, str]:
    """(optimizer, what actually runs); the second goes into the session record."""
    import torch

    params = list(params)
    if name in ("adamw_8bit", "paged_adamw_8bit") and device_kind == "cuda":
        import bitsandbytes as bnb

        cls = bnb.optim.PagedAdamW8bit if name == "paged_adamw_8bit" else bnb.optim.AdamW8bit

        def make(tensors: list[Any]) -> Any:
            return cls(tensors, lr=lr, weight_decay=weight_decay, min_8bit_size=MIN_8BIT_SIZE)

        min_numel, used, syncs_per_tensor = MIN_8BIT_SIZE, name, True
    else:

        def make(tensors: list[Any]) -> Any:
            return torch.optim.AdamW(tensors, lr=lr, weight_decay=weight_decay)

        min_numel, syncs_per_tensor = 0, False
        used = "adamw_torch" if name == "adamw_torch" else f"adamw_torch ({name} needs CUDA)"
    if flat == "off" or (flat == "auto" and not syncs_per_tensor):
        return make(params), used
    return FlatOptimizer(make, params, min_numel=min_numel), f"{used} over one flat buffer"
