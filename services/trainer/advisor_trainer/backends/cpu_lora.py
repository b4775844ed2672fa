"""Plain LoRA on the CPU in fp32: no quantisation (bitsandbytes 4-bit is CUDA-only)."""

from __future__ import annotations

from typing import Any

from . import LoadedModel
from .lora import attach_lora


def load(config: Any, location: str) -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(location, dtype=torch.float32)
    base.config.use_cache = False  # the KV cache is useless in training and costs memory
    if config.gradient_checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = attach_lora(base, config)
    return LoadedModel(model, "cpu-lora", "cpu", "float32", quantised=False)
