"""The GPU paths, for the GPU benchmark machine (GPU.md); skipped where there is no CUDA.

A Mistral-7B-shaped model with random weights stands in for the real one: its memory and
parameter counts are those of the real model.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

from advisor_shared.bundle import BundleRef, read_bundle
from advisor_shared.store import LocalStore
from tests.integration.trainer.test_trainer_process_handoff import (
    completed_steps,
    start_trainer,
    wait_for_step,
    write_config,
)
from tests.unit.trainer.trainer_testkit import tiny_config

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.integration,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.fixture(scope="module")
def mistral_7b_shaped(tmp_path_factory, tiny_model_dir) -> Path:
    from transformers import MistralConfig, MistralForCausalLM

    folder = tmp_path_factory.mktemp("mistral-7b-shaped")
    config = MistralConfig(vocab_size=32768, hidden_size=4096, intermediate_size=14336,
                           num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                           sliding_window=None)  # fmt: skip
    with torch.device("cuda"):
        model = MistralForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    del model
    torch.cuda.empty_cache()
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (tiny_model_dir / name).is_file():
            shutil.copy(tiny_model_dir / name, folder / name)
    return folder


def test_nf4_with_r16_on_seven_projections_has_41_943_040_trainable(
    mistral_7b_shaped, tmp_path
) -> None:
    pytest.importorskip("bitsandbytes")
    from advisor_trainer.backends import load_model
    from advisor_trainer.config import TrainingJobConfig

    loaded = load_model("hf-bnb", TrainingJobConfig(), str(mistral_7b_shaped), "bfloat16")
    assert loaded.quantised and loaded.trainable_parameters() == 41_943_040


def test_handoff_between_two_processes_on_the_gpu(
    mistral_7b_shaped, tiny_dataset, tmp_path
) -> None:
    pytest.importorskip("bitsandbytes")
    store = LocalStore(tmp_path / "store")
    config = tiny_config(
        mistral_7b_shaped, tiny_dataset, tmp_path / "out", backend="auto", lora_r=16,
        lora_alpha=32, gradient_checkpointing=True, num_train_epochs=2,
        gradient_accumulation_steps=1, run_name="gpu-run",
    )  # fmt: skip
    path = write_config(tmp_path / "gpu.yaml", config)
    events = tmp_path / "first.jsonl"
    first = start_trainer(path, store.root, events)
    wait_for_step(first, events, 3, timeout=600)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=600) == 0
    state = read_bundle(store, BundleRef("gpu-run"), tmp_path / "r").trainer_state
    assert state["global_step"] == completed_steps(events)[-1]
    session = state["sessions"][0]
    assert (
        session["device_kind"] == "cuda"
        and session["peak_memory"]["max_memory_allocated_bytes"] > 0
    )
    second = start_trainer(path, store.root, tmp_path / "second.jsonl", "--resume", "auto")
    assert second.wait(timeout=1200) == 0
    final = read_bundle(store, BundleRef("gpu-run"), tmp_path / "r").trainer_state
    assert final["global_step"] == final["total_steps"]
    assert [s["first_step"] for s in final["sessions"]] == [0, state["global_step"]]
