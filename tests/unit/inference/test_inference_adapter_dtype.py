"""Adapters are served in the base model's dtype: only the named adapter's LoRA weights change."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit
torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")


def test_only_the_named_adapters_lora_weights_take_the_base_dtype() -> None:
    from advisor_inference.engines.hf.runner import serve_in_base_dtype

    base = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
    config = peft.LoraConfig(r=2, target_modules=["0", "2"])
    model = peft.get_peft_model(base, config, adapter_name="first")
    model.add_adapter("second", config)

    serve_in_base_dtype(model, "first", torch.bfloat16)

    dtypes = {name: p.dtype for name, p in model.named_parameters()}
    first = [n for n in dtypes if ".first." in n]
    second = [n for n in dtypes if ".second." in n]
    assert first and all(dtypes[n] == torch.bfloat16 for n in first)
    assert second and all(dtypes[n] == torch.float32 for n in second)
    assert dtypes["base_model.model.0.base_layer.weight"] == torch.float32
