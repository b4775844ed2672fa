"""The lean LoRA path gives peft's logits; outside `use()`, for mixed batches and with the
adapter layers off, peft's own forward runs."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit
torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def two_adapters(model_dir, dtype):
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS)
    model = peft.get_peft_model(base, config, adapter_name="first")
    model.add_adapter("second", config)
    generator = torch.Generator().manual_seed(0)
    for name, param in model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero: no effect to compare
            param.data = torch.randn(param.shape, generator=generator).to(param.dtype) * 0.1
    return model.eval()


def logits(model, ids, **kwargs):
    with torch.inference_mode():
        return model(input_ids=ids, **kwargs).logits.float()


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 1e-5), (torch.bfloat16, 0.1)])
def test_the_lean_path_gives_peft_logits(tiny_model_dir, dtype, tolerance) -> None:
    from advisor_inference.engines.hf import lora_fast
    from advisor_inference.engines.hf.runner import serve_in_base_dtype

    model = two_adapters(tiny_model_dir, dtype)
    for name in ("first", "second"):
        serve_in_base_dtype(model, name, dtype)
    ids = torch.randint(3, 200, (3, 11), generator=torch.Generator().manual_seed(1))
    model.set_adapter("second")
    expected = {"second": logits(model, ids)}
    model.set_adapter("first")
    expected["first"] = logits(model, ids)
    mixed = logits(model, ids, adapter_names=["first", "__base__", "second"])
    with model.disable_adapter():
        plain = logits(model, ids)

    layers = model.base_model.model.config.num_hidden_layers
    assert lora_fast.install(model) == len(TARGETS) * layers
    assert lora_fast.install(model) == 0  # idempotent
    for name in ("first", "second"):
        with lora_fast.use(name):
            assert torch.allclose(logits(model, ids), expected[name], atol=tolerance)
    assert not torch.allclose(expected["first"], expected["second"], atol=tolerance)
    assert torch.equal(logits(model, ids), expected["first"])  # outside use(): peft, active "first"
    with lora_fast.use("second"):
        assert torch.equal(logits(model, ids, adapter_names=["first", "__base__", "second"]), mixed)
        with model.disable_adapter():
            assert torch.equal(logits(model, ids), plain)


def test_forgotten_weights_are_folded_afresh(tiny_model_dir) -> None:
    from advisor_inference.engines.hf import lora_fast

    model = two_adapters(tiny_model_dir, torch.float32)
    lora_fast.install(model)
    ids = torch.randint(3, 200, (1, 7), generator=torch.Generator().manual_seed(2))
    with lora_fast.use("first"):
        before = logits(model, ids)
        for name, param in model.named_parameters():
            if "lora_B.first." in name:
                param.data.mul_(2)
        assert torch.equal(logits(model, ids), before)  # still the folded copy
        lora_fast.forget(model, "first")
        assert not torch.allclose(logits(model, ids), before)


def test_an_adapter_in_another_dtype_than_the_base_takes_peft(tiny_model_dir) -> None:
    from advisor_inference.engines.hf import lora_fast

    model = two_adapters(tiny_model_dir, torch.bfloat16)  # peft keeps LoRA weights in fp32
    ids = torch.randint(3, 200, (2, 5), generator=torch.Generator().manual_seed(3))
    model.set_adapter("first")
    expected = logits(model, ids)
    lora_fast.install(model)
    with lora_fast.use("first"):
        assert torch.equal(logits(model, ids), expected)


def test_a_hooked_base_layer_still_runs_its_hook_and_new_weights_are_seen(tiny_model_dir) -> None:
    from advisor_inference.engines.hf import lora_fast

    model = two_adapters(tiny_model_dir, torch.float32)
    model.set_adapter("first")
    q_proj = model.base_model.model.model.layers[0].self_attn.q_proj
    calls = []
    q_proj.base_layer.register_forward_hook(lambda *_: calls.append(1))
    ids = torch.randint(3, 200, (1, 4), generator=torch.Generator().manual_seed(7))
    expected = logits(model, ids)
    calls.clear()
    lora_fast.install(model)
    with lora_fast.use("first"):
        assert torch.allclose(logits(model, ids), expected, atol=1e-5) and calls
        # A base weight replaced after install (another load, another device) is the one used.
        k_proj = model.base_model.model.model.layers[0].self_attn.k_proj.base_layer
        k_proj.weight = torch.nn.Parameter(torch.zeros_like(k_proj.weight))
        changed = logits(model, ids)
    model.set_adapter("first")
    assert not torch.allclose(changed, expected, atol=1e-3)
    assert torch.allclose(changed, logits(model, ids), atol=1e-5)  # peft's forward agrees
