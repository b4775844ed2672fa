"""Plain LoRA on the CPU, no quantisation (bitsandbytes 4-bit is CUDA-only): the frozen base in
`dtype` (bf16 where the CPU computes it natively, else fp32), the LoRA weights in fp32, the
forward under bf16 autocast (data/batches.py) — the CPU's counterpart of QLoRA's frozen NF4
base with fp32 adapters."""

from __future__ import annotations

from typing import Any

from . import LoadedModel, keep_trainable_in_float32
from .lora import attach_lora


def load(config: Any, location: str, dtype: str = "float32") -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(location, dtype=getattr(torch, dtype))
    base.config.use_cache = False  # the KV cache is useless in training and costs memory
    if config.gradient_checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = attach_lora(base, config)
    keep_trainable_in_float32(model)
    return LoadedModel(model, "cpu-lora", "cpu", dtype, quantised=False)
