"""The LoRA settings every backend shares, and attaching them with the init seed."""

from __future__ import annotations

from typing import Any


def lora_config_kwargs(config: Any) -> dict[str, Any]:
    """Arguments of `peft.LoraConfig` for the job config (bias 'none', as the paper)."""
    return {
        "r": config.lora_r,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": config.lora_dropout,
        "target_modules": list(config.lora_target_modules),
        "bias": "none",
        "task_type": "CAUSAL_LM",
    }


def attach_lora(model: Any, config: Any) -> Any:
    """Wrap `model` with fresh LoRA weights; A is drawn from the LoRA init seed (3407)."""
    import torch
    from peft import LoraConfig, get_peft_model

    missing = [
        name
        for name in config.lora_target_modules
        if not any(module_name.endswith(name) for module_name, _ in model.named_modules())
    ]
    if missing:
        from ..errors import ConfigError

        raise ConfigError(f"lora_target_modules not found in the base model: {missing}")
    torch.manual_seed(config.lora_init_seed)
    return get_peft_model(model, LoraConfig(**lora_config_kwargs(config)))
