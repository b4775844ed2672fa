"""A leaner LoRA forward for batches whose rows all use one adapter.

Decoding is launch-bound (benchmarks/README.md: batch-1 decode at 15 % of the bandwidth
limit), so an adapter costs what its extra kernels and Python cost, not its arithmetic. peft's
LoRA layer runs, per projection and step, its argument checks, the A product, the B product, a
multiplication by the scaling and an addition. Here the scaling is folded into B once, when
the adapter is first used, and the update is accumulated into the base layer's output in place:

    out = base(x);  out += (x @ A^T) @ (s B)^T        (one matmul, one addmm_)

peft keeps everything else: loading, deleting, and mixed batches (`adapter_names`) take its
own forward. With the adapter layers switched off (a base-only batch) a layer runs its base
layer directly, as peft's forward would after its checks. `use(name)` selects the adapter for
the forward passes inside it; outside it an enabled layer runs peft's forward unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

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


def active() -> str | None:
    """The adapter selected by the enclosing `use` block, if any."""
    return _ACTIVE.get()


def install(model: Any) -> int:
    """Route every peft LoRA Linear of `model` through the lean path (idempotent); returns
    the number of layers routed."""
    from peft.tuners.lora import Linear as LoraLinear

    routed = 0
    for module in model.modules():
        if isinstance(module, LoraLinear) and not hasattr(module, "_peft_forward"):
            _route(module)
            routed += 1
    return routed


def _route(module: Any) -> None:
    """Replace the forward of one LoRA layer on the instance, keeping peft's beside it. The
    attributes are the instance's own, not peft's class's: hence `Any`."""
    module._peft_forward = module.forward
    module._fast_weights = {}
    module.forward = _bound(module)


def forget(model: Any, name: str) -> None:
    """Drop the folded weights of adapter `name` (after peft deleted it, or before reloading)."""
    for module in model.modules():
        getattr(module, "_fast_weights", {}).pop(name, None)


def _bound(module: Any) -> Any:
    # Decode steps are host-bound: each call here costs what its Python and its operations
    # cost to issue. So the layer is looked up once (module attribute access walks nn.Module's
    # dictionaries), and what the lean path needs per adapter is decided at its first use.
    peft_forward = module._peft_forward
    folded = module._fast_weights
    base = _plain_linear(module.base_layer) or module.base_layer

    def forward(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if args or kwargs:
            return peft_forward(x, *args, **kwargs)  # adapter_names (a mixed batch) and the like
        if module.disable_adapters:
            # A base-only batch: peft's forward would run the base layer after its checks
            # (and unmerge a merged layer first, left to it).
            return peft_forward(x) if module.merged else base(x)
        name = _ACTIVE.get()
        if name is None:
            return peft_forward(x)
        weights = folded.get(name)
        if weights is None:
            weights = folded[name] = fold(module, name)
        if weights is False or x.dtype != weights[0].dtype:
            return peft_forward(x)  # not plain LoRA; or another dtype, where peft casts
        a_t, b_t = weights
        result = base(x)
        update = x.reshape(-1, x.shape[-1]) @ a_t
        if result.dtype != a_t.dtype or not result.is_contiguous():
            return result + (update @ b_t).view(result.shape).to(result.dtype)
        result.view(-1, result.shape[-1]).addmm_(update, b_t)
        return result

    return forward


def fold(module: Any, name: str) -> tuple[torch.Tensor, torch.Tensor] | Literal[False]:
    """Adapter `name`'s (A^T, (s B)^T) on `module`, contiguous, in the adapter's serving dtype;
    False where the lean path does not apply (no such adapter, merged, or not plain LoRA)."""
    if name not in module.lora_A or module.merged or name in getattr(module, "lora_variant", {}):
        return False
    a = module.lora_A[name].weight
    b = module.lora_B[name].weight
    return a.t().contiguous(), (b * module.scaling[name]).t().contiguous().to(a.dtype)


def _plain_linear(layer: Any) -> Any:
    """`layer`'s product without nn.Module's call machinery (about a third of a projection's
    host time at decode sizes), when `layer` is a plain Linear with no hooks or replaced
    forward at install time; None otherwise (quantised or wrapped layers run as they are).
    The weights are read from the layer's parameter table at every call, so moving or
    replacing them stays visible."""
    plain = type(layer) is torch.nn.Linear and "forward" not in vars(layer)
    if not plain or layer._forward_hooks or layer._forward_pre_hooks:
        return None
    parameters = layer._parameters
    linear = torch.nn.functional.linear
    return lambda x: linear(x, parameters["weight"], parameters["bias"])
