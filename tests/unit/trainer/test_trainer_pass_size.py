"""Rows per forward pass: chosen from the memory measured after loading, within the step;
more rows per pass means fewer passes over the same conversations, with the same gradient."""

from __future__ import annotations

import pytest

from advisor_trainer.config import ALL_PROJECTIONS
from advisor_trainer.data.batches import forward_inputs
from advisor_trainer.data.tokenization import IGNORE_INDEX, TokenizedExample
from advisor_trainer.hardware.memory import ModelShape, bytes_per_row, estimate_peak_memory
from advisor_trainer.hardware.pass_size import HEADROOM, choose_rows_per_pass

pytestmark = pytest.mark.unit
GB = 1e9
MISTRAL_7B = ModelShape(32768, 4096, 14336, 32, 32, 8, 128, tie_word_embeddings=False)


def choose(**overrides) -> int:
    values = {
        "configured": None,
        "micro_batch_size": 2,
        "step_rows": 8,
        "free_bytes": 10 * GB,
        "reserved_bytes": 0.5 * GB,
        "row_bytes": 1 * GB,
    }
    return choose_rows_per_pass(**(values | overrides))


def test_rows_fill_the_measured_free_memory_within_the_step() -> None:
    assert choose() == int((10 * HEADROOM - 0.5) // 1)  # 7 rows of 1 GB in 7.5 GB
    assert choose(free_bytes=100 * GB) == 8  # never more rows than the step's conversations
    assert choose(free_bytes=2 * GB) == 2  # never fewer than micro_batch_size


def test_configured_or_unmeasured_rows_are_taken_as_given() -> None:
    assert choose(configured=3) == 3
    assert choose(free_bytes=None) == 2  # CPU: micro_batch_size


@pytest.mark.parametrize("backend", ["unsloth", "hf-bnb"])
def test_bytes_per_row_is_what_one_more_row_adds_to_the_estimate(backend: str) -> None:
    def total(rows: int) -> float:
        return estimate_peak_memory(
            MISTRAL_7B,
            backend=backend,
            dtype="bfloat16",
            micro_batch_size=rows,
            seq_len=2048,
            lora_r=16,
            lora_targets=ALL_PROJECTIONS,
            optimizer="adamw_8bit",
            gradient_checkpointing=True,
            load_in_4bit=True,
            double_quant=True,
            device_name="card",
            capacity_bytes=16 * GB,
        ).total_bytes

    row = bytes_per_row(
        MISTRAL_7B, backend=backend, dtype="bfloat16", seq_len=2048, gradient_checkpointing=True
    )
    assert total(3) - total(2) == pytest.approx(row, rel=1e-9)


def test_more_rows_per_pass_means_fewer_passes_over_the_same_tokens() -> None:
    def conv(name: str, length: int) -> TokenizedExample:
        return TokenizedExample(
            name, list(range(3, 3 + length)), [IGNORE_INDEX] + [5] * (length - 1)
        )

    step = [[conv("a", 60), conv("b", 50)], [conv("c", 40), conv("d", 30)]]
    default = forward_inputs(step, layout="flat", max_seq_len=64, pad_token_id=0)
    wide = forward_inputs(step, layout="flat", max_seq_len=64, pad_token_id=0, rows_per_pass=4)
    # four rows (none shares 64 tokens): two per pass by default, all four when there is room
    assert [p["input_ids"].shape[1] for p in default] == [60 + 50, 40 + 30]
    assert [p["input_ids"].shape[1] for p in wide] == [180]
    assert sorted(wide[0]["packed_seq_lengths"].tolist()) == [30, 40, 50, 60]
