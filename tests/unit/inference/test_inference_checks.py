"""Adapter checks on config and tensors, before any engine sees the weights."""

from __future__ import annotations

import pytest

from advisor_inference.adapters.checks import LoraSpec, check_lora_config, check_tensors
from advisor_inference.engines.model_files import llama_linear_shapes
from advisor_inference.errors import AdapterRefusedError
from advisor_shared.safetensors_header import TensorInfo

pytestmark = pytest.mark.unit
ALLOWED = ("q_proj", "v_proj")
CONFIG = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
SHAPES = {"model.layers.0.self_attn.q_proj": (64, 64), "model.layers.0.self_attn.v_proj": (32, 64)}


def tensors(a_shape: tuple[int, int], b_shape: tuple[int, int], module: str = "q_proj") -> dict:
    prefix = f"base_model.model.model.layers.0.self_attn.{module}"
    return {
        f"{prefix}.lora_A.weight": TensorInfo("F32", a_shape),
        f"{prefix}.lora_B.weight": TensorInfo("F32", b_shape),
    }


def refused(fn, *args, **kwargs) -> AdapterRefusedError:
    with pytest.raises(AdapterRefusedError) as err:
        fn(*args, **kwargs)
    assert err.value.status == 422
    return err.value


def test_a_plain_lora_passes() -> None:
    spec = check_lora_config(CONFIG, max_rank=16, allowed_targets=ALLOWED)
    assert spec == LoraSpec(rank=4, alpha=8.0, target_modules=("q_proj", "v_proj"))
    check_tensors(tensors((4, 64), (64, 4)), spec, SHAPES)


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"r": 32}, "rank_too_high", "exceeds the maximum 16"),
        ({"rank_pattern": {"q_proj": 64}}, "rank_too_high", "64"),
        ({"target_modules": ["q_proj", "lm_head"]}, "target_modules_not_allowed", "lm_head"),
        ({"target_modules": ".*proj"}, "invalid_bundle", "no regex"),
        ({"peft_type": "PREFIX_TUNING"}, "invalid_bundle", "only 'LORA'"),
        ({"use_dora": True}, "invalid_bundle", "use_dora"),
        ({"modules_to_save": ["embed_tokens"]}, "invalid_bundle", "modules_to_save"),
    ],
)
def test_config_refusals_say_why(change: dict, code: str, words: str) -> None:
    error = refused(check_lora_config, {**CONFIG, **change}, max_rank=16, allowed_targets=ALLOWED)
    assert error.code == code and words in error.message


def test_tensor_refusals() -> None:
    spec = LoraSpec(4, 8.0, ("q_proj", "v_proj"))
    assert (
        "outside target_modules"
        in refused(check_tensors, tensors((4, 64), (64, 4), "k_proj"), spec, SHAPES).message
    )
    assert "rank 8/8" in refused(check_tensors, tensors((8, 64), (64, 8)), spec, SHAPES).message
    wrong = refused(check_tensors, tensors((4, 32), (64, 4)), spec, SHAPES)
    assert wrong.code == "base_model_mismatch" and "64x64" in wrong.message
    half = {k: v for k, v in tensors((4, 64), (64, 4)).items() if "lora_A" in k}
    assert "lacks its lora_B" in refused(check_tensors, half, spec, SHAPES).message
    stray = {"base_model.model.lm_head.weight": TensorInfo("F32", (10, 64))}
    assert "only LoRA A/B" in refused(check_tensors, stray, spec, SHAPES).message
    ints = {k: TensorInfo("I64", v.shape) for k, v in tensors((4, 64), (64, 4)).items()}
    assert "2-D float" in refused(check_tensors, ints, spec, SHAPES).message


def test_linear_shapes_of_mistral_7b_from_its_config() -> None:
    config = {
        "model_type": "mistral",
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "head_dim": 128,
    }
    shapes = llama_linear_shapes(config)
    assert shapes is not None and len(shapes) == 32 * 7
    assert shapes["model.layers.31.self_attn.k_proj"] == (1024, 4096)
    assert shapes["model.layers.0.mlp.down_proj"] == (4096, 14336)
    assert llama_linear_shapes({"model_type": "gpt2"}) is None
