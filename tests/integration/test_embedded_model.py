"""The embedded default materialises offline from the packaged GGUF, loads as Mistral, generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor_shared.chat_template import template_fingerprint, tokenizer_template
from advisor_shared.errors import ModelResolutionError
from advisor_shared.models import encoder_path, resolve_base_model

pytestmark = pytest.mark.integration


def test_smollm2_materialises_offline_and_generates(embedded_model_dir: Path) -> None:
    import torch
    from transformers import AutoTokenizer, MistralForCausalLM

    model = MistralForCausalLM.from_pretrained(embedded_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir)
    assert model.config.model_type == "mistral"
    assert model.config.num_hidden_layers == 30 and model.config.hidden_size == 576
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer
    assert len(template_fingerprint(tokenizer_template(tokenizer))) == 64


def test_resolution_reuses_the_cache_and_fingerprints_stably(embedded_model_dir: Path) -> None:
    first = resolve_base_model("smollm2-135m-instruct", embedded_model_dir.parent)
    second = resolve_base_model("smollm2-135m-instruct", embedded_model_dir.parent)
    assert first.location == str(embedded_model_dir) and first.is_local
    assert first.fingerprint == second.fingerprint and first.fingerprint.startswith("sha256:")


def test_unknown_base_model_is_refused_offline(tmp_path: Path) -> None:
    with pytest.raises(ModelResolutionError, match="not in the local Hugging Face cache"):
        resolve_base_model("nobody/no-such-model-xyz", tmp_path)
    with pytest.raises(ModelResolutionError, match="unknown base model"):
        resolve_base_model("not a model", tmp_path)


def test_packaged_encoder_is_found() -> None:
    assert (Path(encoder_path()) / "model.safetensors").is_file()
