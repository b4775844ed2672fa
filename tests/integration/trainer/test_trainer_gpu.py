"""The GPU paths, for the GPU benchmark machine (docs/gpu.md); skipped where there is no CUDA.

A Mistral-7B-shaped model with random weights stands in for the real one: its memory and
parameter counts are those of the real model. `ADVISOR_TEST_7B_DIR` may name a folder that
already holds such weights (benchmarks/trainer_gpu.py builds one) to save building them again.
Timings are recorded as test properties (`--junitxml` keeps them) and printed (`-s`).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
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
    folder = tmp_path_factory.mktemp("mistral-7b-shaped")
    existing = os.environ.get("ADVISOR_TEST_7B_DIR")
    if existing and (Path(existing) / "config.json").is_file():
        for item in Path(existing).iterdir():
            if item.name == "config.json" or item.suffix in (".safetensors", ".json"):
                if not item.name.startswith(("tokenizer", "special_tokens", "chat_template")):
                    (folder / item.name).symlink_to(item)
    else:
        from transformers import MistralConfig, MistralForCausalLM

        config = MistralConfig(
            vocab_size=32768,
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            sliding_window=None,
        )
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
    assert loaded.packing == "rows"


def test_handoff_between_two_processes_on_the_gpu(
    mistral_7b_shaped, tiny_dataset, tmp_path, record_property
) -> None:
    pytest.importorskip("bitsandbytes")
    store = LocalStore(tmp_path / "store")
    config = tiny_config(
        mistral_7b_shaped,
        tiny_dataset,
        tmp_path / "out",
        backend="auto",
        lora_r=16,
        lora_alpha=32,
        gradient_checkpointing=True,
        num_train_epochs=2,
        gradient_accumulation_steps=1,
        run_name="gpu-run",
        checkpoint_every_steps=2,
    )
    path = write_config(tmp_path / "gpu.yaml", config)
    events = tmp_path / "first.jsonl"
    first = start_trainer(path, store.root, events)
    wait_for_step(first, events, 3, timeout=600)
    signalled = time.monotonic()
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=600) == 0
    sigterm_to_exit = time.monotonic() - signalled
    state = read_bundle(store, BundleRef("gpu-run"), tmp_path / "r").trainer_state
    assert state["global_step"] == completed_steps(events)[-1]
    session = state["sessions"][0]
    assert (
        session["device_kind"] == "cuda"
        and session["peak_memory"]["max_memory_allocated_bytes"] > 0
    )
    resume_step = state["global_step"]

    started = time.monotonic()
    second_events = tmp_path / "second.jsonl"
    second = start_trainer(path, store.root, second_events, "--resume", "auto")
    wait_for_step(second, second_events, resume_step + 1, timeout=900)
    start_to_first_resumed_step = time.monotonic() - started
    assert second.wait(timeout=1200) == 0
    final_bundle = read_bundle(store, BundleRef("gpu-run"), tmp_path / "r")
    final = final_bundle.trainer_state
    assert final["global_step"] == final["total_steps"]
    assert [s["first_step"] for s in final["sessions"]] == [0, resume_step]
    bundles = [b for s in final["sessions"] for b in s["periodic_bundles"]]
    assert bundles and all(b["write_s"] > 0 for b in bundles)
    figures = {
        "backend": session["backend"],
        "packing": session["packing"],
        "dtype": session["dtype"],
        "process_start_to_first_resumed_step_s": round(start_to_first_resumed_step, 2),
        "sigterm_to_exit_s": round(sigterm_to_exit, 2),
        "bundle_write_s": [b["write_s"] for b in bundles],
        "bundle_stall_s": [b["stall_s"] for b in bundles],
        "adapter_mb": round(
            (final_bundle.path / "adapter_model.safetensors").stat().st_size / 1e6, 1
        ),
        "resume_step": resume_step,
    }
    for name, value in figures.items():
        record_property(name, value)
    print("GPU handoff:", figures)
