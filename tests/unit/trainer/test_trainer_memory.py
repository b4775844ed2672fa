"""The peak-memory estimate against the H200 measurements of docs/gpu.md#the-first-baseline, and
the refusal it drives."""

from __future__ import annotations

import pytest

from advisor_trainer.config import ALL_PROJECTIONS
from advisor_trainer.errors import MemoryBudgetError
from advisor_trainer.hardware.device import DEVICE_PROFILES
from advisor_trainer.hardware.memory import ModelShape, estimate_peak_memory, refuse_if_too_big

pytestmark = pytest.mark.unit
MISTRAL_7B = ModelShape(32768, 4096, 14336, 32, 32, 8, 128, tie_word_embeddings=False)


def _estimate(backend: str, batch: int, seq: int, card: str = "p100"):
    device = DEVICE_PROFILES[card]
    return estimate_peak_memory(
        MISTRAL_7B,
        backend=backend,
        dtype="bfloat16",
        micro_batch_size=batch,
        seq_len=seq,
        lora_r=16,
        lora_targets=ALL_PROJECTIONS,
        optimizer="adamw_8bit",
        gradient_checkpointing=True,
        load_in_4bit=True,
        double_quant=True,
        device_name=device.name,
        capacity_bytes=device.total_memory_bytes,
    )


def _allocated(estimate) -> float:
    return sum(v for k, v in estimate.components.items() if k != "overhead") / 1e9


@pytest.mark.parametrize(
    ("backend", "batch", "seq", "measured_gb"),
    [("hf-bnb", 2, 2048, 12.41), ("hf-bnb", 4, 1024, 10.26), ("unsloth", 2, 2048, 5.74)],
)
def test_estimate_is_within_5_percent_of_the_h200_measurements(
    backend, batch, seq, measured_gb
) -> None:
    assert _allocated(_estimate(backend, batch, seq)) == pytest.approx(measured_gb, rel=0.05)


def test_model_shape_counts_the_7b_parameters() -> None:
    assert MISTRAL_7B.linear_params + MISTRAL_7B.other_params == 7_248_023_552
    assert MISTRAL_7B.lora_params(16, ALL_PROJECTIONS) == 41_943_040


def test_papers_config_fits_a_p100_and_a_bigger_batch_is_refused_with_numbers() -> None:
    refuse_if_too_big(_estimate("hf-bnb", 2, 2048, "p100"))
    refuse_if_too_big(_estimate("unsloth", 4, 2048, "t4"))  # the paper's phase 2 on the T4
    with pytest.raises(MemoryBudgetError) as caught:
        refuse_if_too_big(_estimate("hf-bnb", 4, 2048, "p100"), " the simulated P100")
    message = str(caught.value)
    assert "does not fit the simulated P100: estimated peak 24.41 GB" in message
    assert "with 17.06 GB" in message and "attention 8.59" in message
