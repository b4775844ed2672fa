"""Whether this CPU computes bf16 natively: AMX tiles (Sapphire Rapids and later) or AVX-512
BF16 (Cooper Lake, Zen 4). There the trainer keeps a model's frozen weights in bf16: a LoRA
step takes 0.57x the CPU time of fp32 (benchmarks/cpu_bf16.py). Elsewhere torch would emulate
bf16, which is slower than fp32, so fp32 stays the choice."""

from __future__ import annotations


def cpu_has_native_bf16() -> bool:
    """True when torch reports AMX tiles or AVX-512 BF16 on this CPU (False without torch)."""
    try:
        import torch
    except ImportError:
        return False
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)
