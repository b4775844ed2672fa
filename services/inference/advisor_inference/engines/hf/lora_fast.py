"""A leaner LoRA forward for batches whose rows all use one adapter.

Decoding is launch-bound (benchmarks/README.md: batch-1 decode at 15 % of the bandwidth
limit), so an adapter costs what its extra kernels and Python cost, not its arithmetic. peft's
LoRA layer runs, per projection and step, its argument checks, the A product, the B product, a
multiplication by the scaling and an addition. Here the scaling is folded into B once, when
the adapter is first used, and the update is accumulated into the base layer's output in place:

    out = base(x);  out += (x @ A^T) @ (s B)^T        (one matmul, one addmm_)

peft keeps everything else: loading, deleting, mixed batches (`adapter_names`) and batches with
the adapter layers switched off take its own forward. `use(name)` selects the adapter for the
forward passes inside it; outside it every layer runs peft's forward unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch

_ACTIVE: ContextVar[str | None] = ContextVar("fast_lora_adapter", default=None)


@contextmanager
def use(name: str) -> Iterator[None]:
    """Forward passes in this block apply adapter `name` through the lean path."""
    token = _ACTIVE.set(name)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def install(model: Any) -> int:
    """Route every peft LoRA Linear of `model` through `fast_forward` (idempotent); returns
    the number of layers routed."""
    from peft.tuners.lora import Linear as LoraLinear

    routed = 0
    for module in model.modules():
        if isinstance(module, LoraLinear) and not hasattr(module, "_peft_forward"):
            module._peft_forward = module.forward
            module._fast_weights = {}
            module.forward = _bound(module)
            routed += 1
    return routed


def forget(model: Any, name: str) -> None:
    """Drop the folded weights of adapter `name` (after peft deleted it, or before reloading)."""
    for module in model.modules():
        getattr(module, "_fast_weights", {}).pop(name, None)


def _bound(module: Any) -> Any:
    def forward(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        name = _ACTIVE.get()
        if name is None or kwargs.get("adapter_names") is not None or module.disable_adapters:
            return module._peft_forward(x, *args, **kwargs)
        return fast_forward(module, name, x, *args, **kwargs)

    return forward


def fast_forward(module: Any, name: str, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
    """`module`'s output with adapter `name`: base output plus (x A^T)(s B)^T, in place."""
    if name not in module.lora_A or module.merged or name in getattr(module, "lora_variant", {}):
        return module._peft_forward(x, *args, **kwargs)  # nothing to add, or not plain LoRA
    weights = module._fast_weights.get(name)
    if weights is None:
        a = module.lora_A[name].weight
        b = module.lora_B[name].weight
        # (in, r) and (r, out), contiguous, in the adapter's serving dtype.
        weights = (a.t().contiguous(), (b * module.scaling[name]).t().contiguous().to(a.dtype))
        module._fast_weights[name] = weights
    a_t, b_t = weights
    if x.dtype != a_t.dtype:
        return module._peft_forward(x, *args, **kwargs)  # peft casts; not worth doing here
    result = module.base_layer(x, *args, **kwargs)
    update = x.reshape(-1, x.shape[-1]) @ a_t
    if result.dtype != a_t.dtype or not result.is_contiguous():
        return result + (update @ b_t).view(result.shape).to(result.dtype)
    result.view(-1, result.shape[-1]).addmm_(update, b_t)
    return result
