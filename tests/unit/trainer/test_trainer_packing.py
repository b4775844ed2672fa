"""Padding-free packing: the plan is a pure function of the step, a packed forward gives every
conversation the logits and loss it gets alone (no attention across conversations), and a
packed step trains exactly like the padded one."""

from __future__ import annotations

import pytest

from advisor_trainer.data.batches import forward_inputs
from advisor_trainer.data.packing import (
    collate_packed,
    is_plain_batch,
    pack_rows,
    packed_row_width_bound,
    plan_forward_passes,
    rows_layout_supported,
)
from advisor_trainer.data.tokenization import IGNORE_INDEX, TokenizedExample

pytestmark = pytest.mark.unit
torch = pytest.importorskip("torch")


def example(name: str, length: int, seed: int = 0, vocab: int = 250) -> TokenizedExample:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (length,), generator=generator).tolist()
    # loss on the second half only, as an assistant turn after a user turn
    labels = [IGNORE_INDEX] * (length // 2) + ids[length // 2 :]
    return TokenizedExample(name, ids, labels)


def lengths(rows) -> list[list[int]]:
    return [[e.length for e in row] for row in rows]


def test_first_fit_decreasing_fills_rows_deterministically() -> None:
    step = [example(f"c{i}", n) for i, n in enumerate([30, 70, 20, 50, 45, 10, 64])]
    rows = pack_rows(step, max_seq_len=100)
    assert lengths(rows) == [[70, 30], [64, 20, 10], [50, 45]]
    assert sorted(e.conversation_id for row in rows for e in row) == sorted(
        e.conversation_id for e in step
    )  # every conversation exactly once
    assert lengths(pack_rows(step, max_seq_len=100)) == lengths(rows)  # pure function
    passes = plan_forward_passes(step, max_seq_len=100, micro_batch_size=2)
    assert [lengths(p) for p in passes] == [[[70, 30], [64, 20, 10]], [[50, 45]]]


def test_rows_layout_restarts_positions_and_ignores_each_first_label() -> None:
    a, b, c = example("a", 5, 1), example("b", 3, 2), example("c", 6, 3)
    batch = collate_packed([[a, b], [c]], "rows", pad_token_id=0)
    assert batch["input_ids"].shape == (2, 8)
    assert "attention_mask" not in batch  # transformers reads the boundaries off the positions
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4, 0, 1, 2], [0, 1, 2, 3, 4, 5, 0, 1]]
    labels = batch["labels"].tolist()
    assert labels[0][0] == labels[0][5] == IGNORE_INDEX  # the first token of a and of b
    assert labels[0][6:] == b.labels[1:] and labels[1][6:] == [IGNORE_INDEX] * 2  # padding
    # the targets are those of the unpacked conversations
    targets = int((batch["labels"] != IGNORE_INDEX).sum())
    assert targets == a.target_count + b.target_count + c.target_count


def test_flat_layout_is_one_row_with_the_conversation_lengths() -> None:
    a, b, c = example("a", 5, 1), example("b", 3, 2), example("c", 6, 3)
    batch = collate_packed([[a, b], [c]], "flat", pad_token_id=0)
    assert batch["input_ids"].shape == (1, 14)
    assert batch["input_ids"][0].tolist() == a.input_ids + b.input_ids + c.input_ids
    assert batch["packed_seq_lengths"].tolist() == [5, 3, 6]
    assert batch["packed_seq_lengths"].dtype == torch.int32


def test_full_rows_of_one_conversation_are_an_ordinary_batch() -> None:
    rows = [[example("a", 8, 1)], [example("b", 8, 2)]]
    assert is_plain_batch(rows)
    for layout in ("rows", "flat"):
        batch = collate_packed(rows, layout, pad_token_id=0)
        assert set(batch) == {"input_ids", "labels"} and batch["input_ids"].shape == (2, 8)


def batch_inputs(batch):
    # As the trainer calls the model: no labels here, and no KV cache (transformers reads the
    # packed boundaries off the position ids only without one).
    return {
        "input_ids": batch["input_ids"],
        "position_ids": batch["position_ids"],
        "use_cache": False,
    }


@pytest.fixture
def tiny_model(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    return model.eval()


def test_a_packed_row_gives_each_conversation_its_own_logits(tiny_model) -> None:
    assert rows_layout_supported(tiny_model)
    convs = [example("a", 37, 1), example("b", 21, 2), example("c", 50, 3), example("d", 9, 4)]
    rows = [[convs[0], convs[1]], [convs[2], convs[3]]]
    batch = collate_packed(rows, "rows", pad_token_id=0)
    with torch.no_grad():
        packed = tiny_model(**batch_inputs(batch)).logits
        alone = [tiny_model(input_ids=torch.tensor([c.input_ids])).logits[0] for c in convs]
        # Control: the same row with one running position and a plain causal mask lets the
        # second conversation attend to the first; this test must be able to see that.
        contaminated = tiny_model(input_ids=batch["input_ids"][:1], use_cache=False).logits
    contaminated = contaminated[0, 37:58]
    spans = [(0, 0, 37), (0, 37, 58), (1, 0, 50), (1, 50, 59)]
    for conv, (row, start, end) in zip(alone, spans, strict=True):
        assert torch.allclose(packed[row, start:end], conv, atol=1e-5)
    assert (contaminated - alone[1]).abs().max() > 1e-3


def test_a_packed_step_has_the_loss_and_gradients_of_the_padded_step(tiny_model_dir) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    step = [[example("a", 37, 1), example("b", 21, 2)], [example("c", 50, 3), example("d", 9, 4)]]
    targets = sum(e.target_count for batch in step for e in batch)

    def run(layout):
        model.zero_grad(set_to_none=True)
        passes = forward_inputs(step, layout=layout, max_seq_len=64, pad_token_id=0)
        loss = sum(
            model(**inputs, use_cache=False, num_items_in_batch=targets).loss for inputs in passes
        )
        loss.backward()
        return (
            float(loss.detach()),
            model.model.layers[0].self_attn.q_proj.weight.grad.clone(),
            passes,
        )

    padded_loss, padded_grad, padded = run(None)
    packed_loss, packed_grad, packed = run("rows")
    assert len(padded) == 2 and len(packed) == 1  # 117 tokens in two rows of <= 64: one pass
    assert packed_loss == pytest.approx(padded_loss, rel=1e-6)
    assert torch.allclose(packed_grad, padded_grad, rtol=1e-4, atol=1e-7)


def test_memory_bound_of_a_packed_row() -> None:
    assert packed_row_width_bound([80, 70, 60, 10], max_seq_len=512, step_size=2) == 150
    assert packed_row_width_bound([900, 800, 700], max_seq_len=1024, step_size=8) == 1024


def test_a_packed_run_takes_the_unpacked_runs_batches_and_losses(
    tiny_model_dir, tiny_dataset, local_store, tmp_path
) -> None:
    from advisor_trainer.training.session import run_training
    from tests.unit.trainer.trainer_testkit import tiny_config

    config = tiny_config(
        tiny_model_dir,
        tiny_dataset,
        tmp_path / "out",
        max_steps=6,
        checkpoint_every_steps=2,
        gradient_accumulation_steps=3,
    )
    packed = run_training(config.with_overrides(run_name="packed"), local_store, tmp_path / "c")
    padded = run_training(
        config.with_overrides(run_name="padded", packing=False), local_store, tmp_path / "c"
    )
    assert packed.session.packing == "rows" and padded.session.packing == "off"
    history = packed.ledger.loss_history, padded.ledger.loss_history
    assert [h["batch"] for h in history[0]] == [h["batch"] for h in history[1]]
    assert [h["lr"] for h in history[0]] == [h["lr"] for h in history[1]]
    assert [h["tokens"] for h in history[0]] == [h["tokens"] for h in history[1]]
    for a, b in zip(*history, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    assert packed.ledger.eval_history[-1]["eval_loss"] == pytest.approx(
        padded.ledger.eval_history[-1]["eval_loss"], rel=1e-4
    )
    # periodic bundles at steps 2 and 4, each with its cost to the training thread recorded
    assert [b["step"] for b in packed.session.periodic_bundles] == [2, 4]
    assert all(b["stall_s"] >= 0 and b["write_s"] > 0 for b in packed.session.periodic_bundles)
