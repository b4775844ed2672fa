"""Unsloth: fused kernels and offloaded checkpointing on CUDA cards of compute capability >= 7.0.

Unsloth patches transformers when imported, so the trainer imports it (`preimport`) before
anything loads transformers whenever this backend is chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import LoadedModel


def preimport() -> None:
    import unsloth  # noqa: F401  (imported for its patches)


def load_kwargs(config: Any, location: str, dtype: str) -> dict[str, Any]:
    """Arguments of `FastLanguageModel.from_pretrained` (dtype name resolved by the caller)."""
    options: dict[str, Any] = {
        "model_name": location,
        "max_seq_length": config.max_seq_len,
        "dtype": dtype,
        "load_in_4bit": config.load_in_4bit,
        # The whole model on the one card. Unsloth's default ("sequential") quietly offloads
        # layers to the CPU when the card is short of memory, and training then fails far
        # away with a tensor on the wrong device; this way a full card is a clear OOM.
        "device_map": {"": 0},
    }
    if Path(location).is_dir():  # a local folder: no hub look-ups (docs/gpu.md)
        options["local_files_only"] = True
    return options


def peft_kwargs(config: Any) -> dict[str, Any]:
    """Arguments of `FastLanguageModel.get_peft_model` (Unsloth seeds A with random_state)."""
    return {
        "r": config.lora_r,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": config.lora_dropout,
        "target_modules": list(config.lora_target_modules),
        "bias": "none",
        "use_gradient_checkpointing": "unsloth" if config.gradient_checkpointing else False,
        "random_state": config.lora_init_seed,
        "max_seq_length": config.max_seq_len,
    }


def load(config: Any, location: str, dtype: str) -> LoadedModel:
    import torch
    from unsloth import FastLanguageModel

    options = load_kwargs(config, location, dtype)
    options["dtype"] = getattr(torch, dtype)
    model, _tokenizer = FastLanguageModel.from_pretrained(**options)
    model = FastLanguageModel.get_peft_model(model, **peft_kwargs(config))
    if config.packing:
        from . import unsloth_varlen

        unsloth_varlen.enable()
    return LoadedModel(model, "unsloth", "cuda:0", dtype, quantised=config.load_in_4bit)
