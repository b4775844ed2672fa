"""Variable-length flash attention for Unsloth's packed rows on torch < 2.12.

Without the flash-attn and xformers packages, Unsloth runs a packed row's attention through
torch's `varlen_attn`, but only on torch >= 2.12 (it needs `enable_gqa`); on older torch it
falls back to one SDPA call per run of equal-length conversations in every layer, plus the
slicing and concatenation around them, which on a packed step of short conversations costs
more than the padding it saved. Unsloth's own lean path (`_LeanFlashVarlen`) calls the aten
flash kernels directly, and those take cumulative sequence lengths and grouped KV heads on
every torch that has them; it is only switched off because `varlen_attn` is missing.

`enable()` points Unsloth's dispatch at that lean path when Unsloth has it, torch has the aten
flash ops and the flash kernel is built in. Everything it touches is checked first; anything
missing leaves Unsloth as it is (returns False). That packed conversations still do not see
each other is checked on the GPU by benchmarks/trainer_gpu.py (`packing_check`: logits of a
packed row against each conversation alone, and without the boundaries).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
NEEDED = ("_TORCH_VARLEN_ATTN", "_LEAN_VARLEN", "_LeanFlashVarlen", "_torch_varlen_takes")


def enable() -> bool:
    """Whether packed rows run through the flash varlen kernels (already, or from now on)."""
    import torch

    try:
        from unsloth.utils import attention_dispatch as dispatch
    except ImportError:
        return False
    if getattr(dispatch, "_TORCH_VARLEN_ATTN", None) is not None:
        return True  # torch >= 2.12: Unsloth does it itself
    if not all(hasattr(dispatch, name) for name in NEEDED):
        return False
    aten = torch.ops.aten
    if not (
        hasattr(aten, "_flash_attention_forward") and hasattr(aten, "_flash_attention_backward")
    ):
        return False
    if not getattr(torch.backends.cuda, "is_flash_attention_available", lambda: False)():
        return False
    lean = dispatch._LeanFlashVarlen

    def varlen(
        query: Any,
        key: Any,
        value: Any,
        cu_seq_q: Any,
        cu_seq_k: Any,
        max_q: int,
        max_k: int,
        *,
        scale: float | None = None,
        window_size: tuple[int, int] = (-1, -1),
        enable_gqa: bool = False,
    ) -> Any:
        # The signature of torch's varlen_attn, on the lean path (self-attention: q == k).
        causal = window_size == (-1, 0)
        return lean.apply(
            query, key, value, cu_seq_q, max_q, causal, scale, window_size[0], window_size[1]
        )

    dispatch._TORCH_VARLEN_ATTN = varlen
    dispatch._LEAN_VARLEN = True
    # torch < 2.12 has no cuDNN varlen path to prefer over flash.
    dispatch._varlen_can_use_cudnn = lambda *args, **kwargs: False
    log.info("packed rows: flash varlen attention through aten (torch %s)", torch.__version__)
    return True
