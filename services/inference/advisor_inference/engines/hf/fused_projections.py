"""A layer's query, key and value projections as one matrix product, and its gate and up
projections as another, with a LoRA adapter's updates added in one more product each.

At decode sizes a projection costs the reading of its weights plus a fixed cost per kernel.
On the H200, the seven products of every layer of a 7B model took 4.46 ms per batch-1 step,
the four fused ones 3.81 ms (benchmarks/results/decode_profile.json), the layout vLLM serves.

The fused matrix is made once per layer; the projections' own weights then become views into
it, so the model holds its weights once and every other path (transformers' forward, peft,
the lean LoRA layers) reads the same numbers. Only plain `nn.Linear` base layers of one dtype
without bias are fused; anything else (bitsandbytes' 4-bit layers, say) runs its modules.

An adapter's update for a fused product is `(x A) B`, with A the projections' A matrices side
by side (`[in, r1 + r2 + r3]`) and B their scaled B matrices on a block diagonal
(`[r1 + r2 + r3, out1 + out2 + out3]`): two kernels instead of two per projection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from . import lora_fast

QKV = ("q_proj", "k_proj", "v_proj")
GATE_UP = ("gate_proj", "up_proj")


@dataclass
class FusedLinear:
    """Several projections of one input as one weight matrix `[sum of outputs, in]`."""

    owner: Any  # the module holding the projections (a layer's self_attn or mlp)
    names: tuple[str, ...]
    weight: torch.Tensor
    sizes: tuple[int, ...]

    def modules(self) -> list[Any]:
        return [getattr(self.owner, name) for name in self.names]


def fuse(owner: Any, names: tuple[str, ...]) -> FusedLinear | None:
    """Fuse `owner`'s projections `names`, re-pointing their weights into the fused matrix;
    None where they are not plain Linears of one dtype, device and input size, without bias."""
    bases = [_base(getattr(owner, name)) for name in names]
    plain = all(type(b) is torch.nn.Linear and b.bias is None for b in bases)
    if not plain or len({(b.weight.dtype, b.weight.device, b.in_features) for b in bases}) != 1:
        return None
    # Ordinary tensors even when first called inside a decode step's inference mode: the
    # weights outlive it, and peft or a later load may use them outside it.
    with torch.inference_mode(False), torch.no_grad():
        weight = torch.cat([b.weight for b in bases])
        start = 0
        for base in bases:
            rows = base.out_features
            base.weight = torch.nn.Parameter(weight[start : start + rows], requires_grad=False)
            start += rows
    return FusedLinear(owner, names, weight, tuple(b.out_features for b in bases))


class LoraPlan:
    """How a fused product meets the active adapter: no update, one update, or the modules'
    own forward (peft's path, merged or non-plain LoRA, another dtype)."""

    NONE = "none"
    MODULES = "modules"

    @staticmethod
    def of(fused: FusedLinear, dtype: torch.dtype) -> str | tuple[torch.Tensor, torch.Tensor]:
        modules = fused.modules()
        lora = [m for m in modules if hasattr(m, "lora_A")]
        if not lora or all(m.disable_adapters for m in lora):
            return LoraPlan.NONE
        name = lora_fast.active()
        if name is None or any(m.disable_adapters or m.merged for m in lora):
            return LoraPlan.MODULES
        pieces: list[tuple[tuple[torch.Tensor, torch.Tensor] | None, int]] = []
        for module, size in zip(modules, fused.sizes, strict=True):
            if not hasattr(module, "lora_A") or name not in module.lora_A:
                pieces.append((None, size))
                continue
            folded = lora_fast.fold(module, name)
            if folded is False or folded[0].dtype != dtype:
                return LoraPlan.MODULES
            pieces.append((folded, size))
        if all(folded is None for folded, _ in pieces):
            return LoraPlan.NONE
        return _stack(pieces)


def _stack(pieces: list[tuple[Any, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """A side by side and B on a block diagonal (members without the adapter add nothing)."""
    present = [folded for folded, _ in pieces if folded is not None]
    a = torch.cat([a_t for a_t, _ in present], dim=1)
    b = a.new_zeros(a.shape[1], sum(size for _, size in pieces))
    rank_at = out_at = 0
    for folded, size in pieces:
        if folded is not None:
            rank = folded[0].shape[1]
            b[rank_at : rank_at + rank, out_at : out_at + size] = folded[1]
            rank_at += rank
        out_at += size
    return a, b


def project(
    fused: FusedLinear, x: torch.Tensor, plan: str | tuple[torch.Tensor, torch.Tensor]
) -> list[torch.Tensor]:
    """The projections of `x` (`[rows, in]`), one `[rows, out_i]` tensor each."""
    if plan == LoraPlan.MODULES:
        return [module(x) for module in fused.modules()]
    out = F.linear(x, fused.weight)
    if not isinstance(plan, str):
        a, b = plan
        out.addmm_(x @ a, b)
    return list(out.split(fused.sizes, dim=-1))


def _base(module: Any) -> Any:
    return getattr(module, "base_layer", module)
