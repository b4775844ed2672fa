"""The optimizer: 8-bit AdamW on CUDA (the paper's), plain AdamW where bitsandbytes cannot run.

bitsandbytes updates the adapter one tensor at a time, with a device sync after each. Handing
it all the tensors as one flat buffer was tried and removed: the trainer gained less than 3 %
from it on the H200 (docs/trainer.md, "The optimizer step")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def build_optimizer(
    name: str, params: Iterable[Any], *, lr: float, weight_decay: float, device_kind: str
) -> tuple[Any, str]:
    """(optimizer, what actually runs); the second goes into the session record."""
    import torch

    params = list(params)
    if name in ("adamw_8bit", "paged_adamw_8bit") and device_kind == "cuda":
        import bitsandbytes as bnb

        cls = bnb.optim.PagedAdamW8bit if name == "paged_adamw_8bit" else bnb.optim.AdamW8bit
        return cls(params, lr=lr, weight_decay=weight_decay), name
    used = "adamw_torch" if name == "adamw_torch" else f"adamw_torch ({name} needs CUDA)"
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay), used
