"""transformers + peft + bitsandbytes: NF4 with double quantisation on CUDA (any card)."""

from __future__ import annotations

from typing import Any

from . import LoadedModel
from .lora import attach_lora


def quantization_kwargs(config: Any, dtype: str) -> dict[str, Any]:
    """Arguments of `transformers.BitsAndBytesConfig` (compute dtype from the policy)."""
    return {
        "load_in_4bit": True,
        "bnb_4bit_quant_type": config.bnb_4bit_quant_type,
        "bnb_4bit_use_double_quant": config.bnb_4bit_use_double_quant,
        "bnb_4bit_compute_dtype": dtype,
    }


def load(config: Any, location: str, dtype: str) -> LoadedModel:
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    torch_dtype = getattr(torch, dtype)
    extra: dict[str, Any] = {}
    if config.load_in_4bit:
        options = quantization_kwargs(config, dtype)
        options["bnb_4bit_compute_dtype"] = torch_dtype
        extra["quantization_config"] = BitsAndBytesConfig(**options)
    base = AutoModelForCausalLM.from_pretrained(
        location, dtype=torch_dtype, device_map={"": 0}, **extra
    )
    base.config.use_cache = False
    if config.load_in_4bit:
        base = prepare_model_for_kbit_training(
            base,
            use_gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif config.gradient_checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = attach_lora(base, config)
    return LoadedModel(model, "hf-bnb", "cuda:0", dtype, quantised=config.load_in_4bit)
