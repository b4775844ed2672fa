"""dtype policy, backend choice, and the arguments the GPU backends are built with."""

from __future__ import annotations

import pytest

from advisor_trainer.backends import choose_backend, policy_backend
from advisor_trainer.backends.hf_bnb import quantization_kwargs
from advisor_trainer.backends.lora import lora_config_kwargs
from advisor_trainer.backends.unsloth import load_kwargs, peft_kwargs
from advisor_trainer.config import ALL_PROJECTIONS, TrainingJobConfig
from advisor_trainer.errors import BackendUnavailableError
from advisor_trainer.hardware.device import DEVICE_PROFILES, DeviceInfo, choose_dtype
from advisor_trainer.training.optimizer import build_optimizer

pytestmark = pytest.mark.unit
CPU = DeviceInfo("cpu", "cpu", None, 8 * 10**9)


@pytest.mark.parametrize(
    ("profile", "dtype", "backend"),
    [
        ("p100", "float16", "hf-bnb"),
        ("t4", "float16", "unsloth"),
        ("a100", "bfloat16", "unsloth"),
        ("h200", "bfloat16", "unsloth"),
    ],
)
def test_dtype_and_backend_policy_per_card(profile: str, dtype: str, backend: str) -> None:
    card = DEVICE_PROFILES[profile]
    assert choose_dtype(card) == dtype  # bf16 only from compute capability 8.0 (lesson 5)
    assert policy_backend(card) == backend
    assert choose_dtype(CPU) == "float32"


def test_precision_fp16_is_forced_and_bf16_refused_where_it_is_emulated() -> None:
    from advisor_trainer.errors import ConfigError

    h200, t4 = DEVICE_PROFILES["h200"], DEVICE_PROFILES["t4"]
    assert choose_dtype(h200, "fp16") == "float16" and choose_dtype(h200, "bf16") == "bfloat16"
    assert choose_dtype(t4, "fp16") == "float16" and choose_dtype(CPU, "fp16") == "float32"
    with pytest.raises(ConfigError, match="cc 7.5"):
        choose_dtype(t4, "bf16")


def test_a_cpu_with_native_bf16_trains_its_frozen_base_in_bf16_unless_fp32_is_asked() -> None:
    from advisor_trainer.errors import ConfigError

    amx = DeviceInfo("cpu", "cpu with AMX", None, 8 * 10**9, native_bf16=True)
    assert choose_dtype(amx) == "bfloat16" and choose_dtype(amx, "bf16") == "bfloat16"
    assert choose_dtype(amx, "fp32") == "float32" and choose_dtype(amx, "fp16") == "float32"
    assert choose_dtype(DEVICE_PROFILES["h200"], "fp32") == "float32"
    with pytest.raises(ConfigError, match="neither AMX nor AVX-512 BF16"):
        choose_dtype(CPU, "bf16")


def test_backend_choice_follows_what_is_installed() -> None:
    t4, p100 = DEVICE_PROFILES["t4"], DEVICE_PROFILES["p100"]
    choose = choose_backend
    assert (
        choose("auto", CPU, unsloth_importable=True, bitsandbytes_importable=True).name
        == "cpu-lora"
    )
    assert (
        choose("auto", t4, unsloth_importable=False, bitsandbytes_importable=True).name == "hf-bnb"
    )
    assert (
        choose("auto", t4, unsloth_importable=True, bitsandbytes_importable=True).name == "unsloth"
    )
    assert (
        choose("auto", p100, unsloth_importable=True, bitsandbytes_importable=True).name == "hf-bnb"
    )
    with pytest.raises(
        BackendUnavailableError, match=r"needs CUDA with compute capability >= 7.0.*cc 6.0"
    ):
        choose("unsloth", p100, unsloth_importable=True, bitsandbytes_importable=True)
    with pytest.raises(BackendUnavailableError, match="'hf-bnb' needs CUDA and bitsandbytes"):
        choose("hf-bnb", CPU, unsloth_importable=False, bitsandbytes_importable=False)
    with pytest.raises(BackendUnavailableError, match="neither unsloth nor bitsandbytes"):
        choose("auto", t4, unsloth_importable=False, bitsandbytes_importable=False)


def test_gpu_backend_arguments(tmp_path) -> None:
    config = TrainingJobConfig()
    assert quantization_kwargs(config, "float16") == {
        "load_in_4bit": True,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": True,
        "bnb_4bit_compute_dtype": "float16",
    }
    assert lora_config_kwargs(config) == {
        "r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.0,
        "target_modules": list(ALL_PROJECTIONS),
        "bias": "none",
        "task_type": "CAUSAL_LM",
    }
    assert load_kwargs(config, "/models/m", "bfloat16") == {
        "model_name": "/models/m",
        "max_seq_length": 2048,
        "dtype": "bfloat16",
        "load_in_4bit": True,
        "device_map": {"": 0},
    }
    assert load_kwargs(config, str(tmp_path), "float16")["local_files_only"] is True
    unsloth_peft = peft_kwargs(config)
    assert unsloth_peft["random_state"] == 3407
    assert unsloth_peft["use_gradient_checkpointing"] == "unsloth"
    assert unsloth_peft["target_modules"] == list(ALL_PROJECTIONS)


def test_cpu_runs_plain_adamw_and_says_so() -> None:
    import torch

    optimizer, used = build_optimizer(
        "adamw_8bit",
        [torch.nn.Parameter(torch.zeros(2))],
        lr=1e-3,
        weight_decay=0.0,
        device_kind="cpu",
    )
    assert isinstance(optimizer, torch.optim.AdamW)
    assert used == "adamw_torch (adamw_8bit needs CUDA)"


def test_mistral_7b_shape_has_the_papers_trainable_parameter_count() -> None:
    """r=16 on all seven projections of a Mistral-7B-shaped model: 41,943,040 (docs/paper.md §2.1).
    Built on the meta device: shapes without memory."""
    import torch
    from transformers import AutoModelForCausalLM, MistralConfig

    from advisor_trainer.backends.lora import attach_lora

    shape = MistralConfig(
        vocab_size=32768,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
    )
    with torch.device("meta"):
        base = AutoModelForCausalLM.from_config(shape)
        model = attach_lora(base, TrainingJobConfig())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == 41_943_040
