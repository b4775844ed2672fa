"""The warm-up pass: the largest pass of the steps left, run without training anything."""

from __future__ import annotations

import random

import pytest

from advisor_trainer.data.tokenization import IGNORE_INDEX, TokenizedExample
from advisor_trainer.training.warm_up import largest_pass, warm_up

pytestmark = pytest.mark.unit
torch = pytest.importorskip("torch")


def conv(name: str, length: int) -> TokenizedExample:
    ids = [3 + (i * 7) % 200 for i in range(length)]
    return TokenizedExample(name, ids, [IGNORE_INDEX] * (length // 2) + ids[length // 2 :])


def test_the_largest_pass_of_the_steps_left_is_found() -> None:
    steps = {
        0: [[conv("a", 10)], [conv("b", 12)]],
        1: [[conv("c", 40)], [conv("d", 30)]],
        2: [[conv("e", 5)], [conv("f", 6)]],
    }
    found = largest_pass(
        range(0, 3),
        steps.__getitem__,
        layout="flat",
        max_seq_len=64,
        pad_token_id=0,
        rows_per_pass=2,
    )
    assert found is not None and found["input_ids"].shape == (1, 70)
    later = largest_pass(
        range(2, 3),
        steps.__getitem__,
        layout="flat",
        max_seq_len=64,
        pad_token_id=0,
        rows_per_pass=2,
    )
    assert later is not None and later["input_ids"].shape == (1, 11)
    assert (
        largest_pass(
            range(3, 3),
            steps.__getitem__,
            layout=None,
            max_seq_len=64,
            pad_token_id=0,
            rows_per_pass=None,
        )
        is None
    )


def test_warm_up_trains_nothing_and_keeps_the_random_state(tiny_model_dir) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(r=4, lora_dropout=0.5, target_modules=["q_proj"]))
    for name, param in model.named_parameters():
        if "lora_B" in name:  # non-zero B, so that a gradient step would show
            torch.nn.init.normal_(param)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    inputs = largest_pass(
        range(1),
        lambda _: [[conv("a", 30), conv("b", 20)]],
        layout="rows",
        max_seq_len=64,
        pad_token_id=0,
        rows_per_pass=2,
    )
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)

    warm_up(model, inputs, device="cpu", dtype="float32")

    assert torch.equal(torch.rand(3), expected)  # dropout drew numbers; the state came back
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


@pytest.mark.parametrize("layout", [None, "rows", "flat"])
@pytest.mark.parametrize("rows_per_pass", [None, 1, 3])
def test_planned_pass_sizes_are_those_of_the_built_passes(layout, rows_per_pass) -> None:
    from advisor_trainer.data.batches import forward_inputs, pass_positions

    rng = random.Random(f"{layout}{rows_per_pass}")
    for step in range(20):
        batches = [
            [conv(f"{step}-{i}-{j}", rng.randint(3, 64)) for j in range(2)] for i in range(3)
        ]
        sizes = {"layout": layout, "max_seq_len": 64, "rows_per_pass": rows_per_pass}
        built = forward_inputs(batches, pad_token_id=0, **sizes)
        assert pass_positions(batches, **sizes) == [p["input_ids"].numel() for p in built]
