"""The GPU harness's hook runs the trainer's own step code; on CPU it takes the cpu-lora path."""

from __future__ import annotations

import pytest

from advisor_trainer.benchmark import run_benchmark_session

pytestmark = pytest.mark.unit


def test_hook_trains_one_step_per_entry(tiny_model_dir) -> None:
    result = run_benchmark_session(
        model_dir=tiny_model_dir, lengths=[[40, 32], [24, 24], [40, 8]], dtype_name="bf16"
    )
    assert result["backend"] == "cpu-lora" and result["dtype"] == "float32"
    assert result["tokens_per_step"] == [72, 48, 48]
    assert len(result["step_times_s"]) == 3 and all(loss > 0 for loss in result["losses"])
    # r=16 on seven projections of the tiny model's two layers (hidden 64, kv 32, mlp 128)
    assert result["trainable_params"] == 2 * 16 * (2 * (64 + 64) + 2 * (64 + 32) + 3 * (64 + 128))
