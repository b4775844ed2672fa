"""Training the tiny model in-process: what changes, what must not, and bad input refused
before any model is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor_shared.bundle import BundleRef, list_versions, read_bundle
from advisor_shared.cpu_precision import cpu_has_native_bf16
from advisor_shared.errors import ModelResolutionError
from advisor_trainer.errors import HandoffMismatchError, MemoryBudgetError, SessionBudgetError
from advisor_trainer.training import session as trainer_module
from advisor_trainer.training.progress import SilentProgress
from advisor_trainer.training.session import run_training
from advisor_trainer.training.stop_signals import StopRequest
from tests.unit.trainer.trainer_testkit import tiny_config

pytestmark = pytest.mark.unit


class StopAfter(SilentProgress):
    """Ask for a stop once `step` is completed, as a SIGTERM would."""

    def __init__(self, stop: StopRequest, step: int):
        self.stop, self.step = stop, step

    def on_step(self, report) -> None:
        if report.step == self.step:
            self.stop.request("SIGTERM")


@pytest.fixture
def config(tiny_model_dir, tiny_dataset, tmp_path):
    return tiny_config(tiny_model_dir, tiny_dataset, tmp_path / "out")


def test_adapter_weights_change_and_base_weights_do_not(config, local_store, tmp_path) -> None:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from advisor_trainer.backends.lora import attach_lora

    outcome = run_training(config.with_overrides(max_steps=4), local_store, tmp_path / "cache")
    assert outcome.finished and outcome.ledger.global_step == 4

    fresh = attach_lora(AutoModelForCausalLM.from_pretrained(config.base_model), config)
    initial = {k: v.clone() for k, v in fresh.state_dict().items()}
    trained = outcome.model.state_dict()
    lora_keys = [k for k in trained if "lora_" in k]
    base_keys = [k for k in trained if "lora_" not in k]
    assert len(lora_keys) == 2 * 7 * 2  # A and B on seven projections in two layers
    assert all(not torch.equal(trained[k], initial[k]) for k in lora_keys if "lora_B" in k)
    assert any(not torch.equal(trained[k], initial[k]) for k in lora_keys if "lora_A" in k)
    # The frozen base is loaded in the session's dtype (bf16 on a CPU with native bf16).
    assert all(torch.equal(trained[k], initial[k].to(trained[k].dtype)) for k in base_keys)
    assert all(not p.requires_grad for n, p in outcome.model.named_parameters() if "lora_" not in n)

    bundle = read_bundle(local_store, outcome.bundle, tmp_path / "read")
    saved = load_file(str(bundle.path / "adapter_model.safetensors"))
    assert len(saved) == len(lora_keys) and all("lora_" in k for k in saved)
    assert bundle.adapter_config["base_model_name_or_path"] == config.base_model


def test_ledger_records_the_session(config, local_store, tmp_path) -> None:
    outcome = run_training(
        config.with_overrides(max_steps=3, device_profile="p100"), local_store, tmp_path / "cache"
    )
    state = read_bundle(local_store, outcome.bundle, tmp_path / "read").trainer_state
    assert (state["global_step"], state["total_steps"], state["epoch_index"]) == (3, 3, 0)
    assert state["schedule"] == {
        "kind": "linear",
        "peak_lr": 5e-3,
        "warmup_steps": 1,
        "total_steps": 3,
    }
    assert [h["step"] for h in state["loss_history"]] == [1, 2, 3]
    assert state["samples_consumed"] == 12 and state["eval_history"][-1]["step"] == 3
    (session,) = state["sessions"]
    cpu_dtype = "bfloat16" if cpu_has_native_bf16() else "float32"
    assert (session["device_kind"], session["dtype"], session["backend"]) == (
        "cpu",
        cpu_dtype,
        "cpu-lora",
    )
    assert session["simulated_device"]["name"] == "Tesla P100-PCIE-16GB"
    assert session["simulated_device"]["policy_dtype"] == "float16"
    assert session["peak_memory"]["rss_peak_bytes"] > 10**7
    assert session["steps"] == 3 and session["stop_reason"] == "finished"
    assert set(state["rng_state"]) >= {"python", "numpy", "torch_cpu"}


def test_stop_then_resume_continues_the_schedule_and_the_batches(
    config, local_store, tmp_path
) -> None:
    run = config  # save_optimizer is left at its default: a handoff is exact by default
    full = run_training(run.with_overrides(run_name="whole"), local_store, tmp_path / "c")
    stop = StopRequest()
    first = run_training(
        run.with_overrides(run_name="split"),
        local_store,
        tmp_path / "c",
        stop=stop,
        progress=StopAfter(stop, 3),
    )
    assert first.stop_reason == "stopped by SIGTERM" and first.ledger.global_step == 3
    second = run_training(
        run.with_overrides(run_name="split", resume="auto"), local_store, tmp_path / "c"
    )
    assert second.finished and second.ledger.sessions[1].first_step == 3

    def per_step(outcome, key):
        return [h[key] for h in outcome.ledger.loss_history]

    assert per_step(second, "lr") == per_step(full, "lr")
    assert per_step(second, "batch") == per_step(full, "batch")
    # Adam moments saved too (the default): the resumed run is the uninterrupted one, step for
    # step.
    assert per_step(second, "loss") == pytest.approx(per_step(full, "loss"), abs=1e-5)
    assert second.ledger.eval_history[-1]["eval_loss"] == pytest.approx(
        full.ledger.eval_history[-1]["eval_loss"], rel=1e-4
    )


def test_nothing_left_to_do_after_the_last_step(config, local_store, tmp_path) -> None:
    done = run_training(config.with_overrides(max_steps=2), local_store, tmp_path / "c")
    again = run_training(
        config.with_overrides(max_steps=2, resume="auto"), local_store, tmp_path / "c"
    )
    assert again.stop_reason == "already finished" and again.bundle == done.bundle
    assert list_versions(local_store, config.run_name) == ["v0001"]


@pytest.fixture
def no_model_loading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the input was checked")

    monkeypatch.setattr(trainer_module, "load_model", refuse)


def test_unknown_base_model_is_refused_first(
    config, local_store, tmp_path, no_model_loading
) -> None:
    with pytest.raises(ModelResolutionError, match="unknown base model 'not-a-model'"):
        run_training(config.with_overrides(base_model="not-a-model"), local_store, tmp_path)


def test_config_that_cannot_fit_is_refused_first(
    config, local_store, tmp_path, no_model_loading
) -> None:
    with pytest.raises(MemoryBudgetError, match=r"config does not fit: estimated peak .* GB"):
        run_training(config.with_overrides(micro_batch_size=2_000_000), local_store, tmp_path)


def test_dataset_without_assistant_turns_is_refused_first(
    config, local_store, tmp_path, no_model_loading
) -> None:
    from advisor_shared.errors import DatasetError

    path = tmp_path / "questions-only.jsonl"
    path.write_text(
        '{"id": "q", "messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "hello?"}]}\n'
    )
    with pytest.raises(
        DatasetError, match=r"questions-only.jsonl:1: messages: .*two user messages in a row"
    ):
        run_training(config.with_overrides(dataset=str(path)), local_store, tmp_path)


def test_empty_budget_is_refused_first(config, local_store, tmp_path, no_model_loading) -> None:
    with pytest.raises(SessionBudgetError, match="is empty"):
        run_training(config.with_overrides(session_budget="0m"), local_store, tmp_path)


def test_resume_refuses_another_base_or_template(
    config, local_store, tmp_path, tiny_model_dir
) -> None:
    import shutil

    run_training(config.with_overrides(max_steps=1), local_store, tmp_path / "c")
    other_template = tmp_path / "other-template"
    shutil.copytree(tiny_model_dir, other_template)
    tokenizer_config = other_template / "chat_template.jinja"
    tokenizer_config.write_text(
        tokenizer_config.read_text().replace("<|im_start|>", "<|im_start|> ")
    )
    with pytest.raises(
        HandoffMismatchError,
        match="trained with chat template sha256 [0-9a-f]{64}; the tokenizer in use has [0-9a-f]{64}",
    ):
        run_training(
            config.with_overrides(resume="auto", base_model=str(other_template)),
            local_store,
            tmp_path / "c",
        )

    from transformers import AutoModelForCausalLM

    other_base = tmp_path / "other-base"
    shutil.copytree(tiny_model_dir, other_base)
    model = AutoModelForCausalLM.from_pretrained(other_base)
    model.model.norm.weight.data += 1.0
    model.save_pretrained(other_base)
    with pytest.raises(
        HandoffMismatchError,
        match=r"trained on base model .* \(fingerprint sha256:[0-9a-f]+\); the configured base has fingerprint sha256:[0-9a-f]+",
    ):
        run_training(
            config.with_overrides(resume="tiny-run@v0001", base_model=str(other_base)),
            local_store,
            tmp_path / "c",
        )


class FailingManifestStore:
    """A store whose manifest upload dies, as a process killed mid-upload would leave it."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def put_bytes(self, key: str, data: bytes, *, overwrite: bool = False) -> None:
        if key.endswith("/manifest.json"):
            raise ConnectionError("upload interrupted")
        self.inner.put_bytes(key, data, overwrite=overwrite)


def test_a_bundle_cut_short_while_uploading_is_never_read(config, local_store, tmp_path) -> None:
    from advisor_shared.errors import BundleError

    stop = StopRequest()
    run = config.with_overrides(max_steps=4)
    first = run_training(run, local_store, tmp_path / "c", stop=stop, progress=StopAfter(stop, 2))
    with pytest.raises(ConnectionError):
        run_training(
            run.with_overrides(resume="auto"), FailingManifestStore(local_store), tmp_path / "c"
        )
    assert any(key.startswith("adapters/tiny-run/v0002/") for key in local_store.list("adapters/"))
    assert list_versions(local_store, "tiny-run") == [first.bundle.version]
    with pytest.raises(BundleError, match="never committed"):
        read_bundle(local_store, BundleRef("tiny-run", "v0002"), tmp_path / "r")


def test_merged_export_is_fp16_safetensors(config, local_store, tmp_path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    outcome = run_training(
        config.with_overrides(max_steps=2, export_merged=True), local_store, tmp_path / "c"
    )
    folder = Path(outcome.merged_export)
    assert (folder / "model.safetensors").is_file() and (folder / "chat_template.jinja").is_file()
    merged = AutoModelForCausalLM.from_pretrained(folder)
    assert merged.dtype == torch.float16
    assert not any("lora_" in name for name, _ in merged.named_parameters())
