"""Adapters in the field's formats: a PEFT or Unsloth output folder imported as a verified
bundle (checked against the base model first), and a bundle exported as a plain PEFT folder
with its model card, which peft loads as it is and whose files are what vLLM reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from advisor_shared.adapter_export import export_peft_folder
from advisor_shared.adapter_import import IMPORT_FORMAT, base_model_files, import_adapter
from advisor_shared.adapters_cli import app as adapters_app
from advisor_shared.bundle import BundleRef, list_bundles, read_bundle, write_bundle
from advisor_shared.chat_template import template_fingerprint
from advisor_shared.errors import BundleError
from advisor_shared.lora_checks import LORA_TENSOR
from advisor_shared.models import resolve_base_model
from advisor_shared.safetensors_header import inspect_safetensors
from advisor_shared.store import LocalStore
from tests.fixtures.cli import invoke
from tests.unit.inference.lora_factory import make_lora_dir

pytestmark = pytest.mark.integration


def peft_output(base_dir: Path, out: Path, **kwargs: object) -> Path:
    """Exactly what `PeftModel.save_pretrained(out)` leaves: config, weights, README."""
    make_lora_dir(base_dir, out, **kwargs)  # type: ignore[arg-type]
    for extra in ("chat_template.jinja", "trainer_state.json"):
        (out / extra).unlink()
    return out


def unsloth_output(base_dir: Path, out: Path) -> Path:
    """What an Unsloth notebook saves (`model.save_pretrained`, `tokenizer.save_pretrained`):
    the adapter naming Unsloth's 4-bit repository as its base, the tokenizer with its chat
    template in tokenizer_config.json, and the HF Trainer state of its last checkpoint."""
    from transformers import AutoTokenizer

    peft_output(base_dir, out, seed=5)
    config = json.loads((out / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "unsloth/mistral-7b-instruct-v0.3-bnb-4bit"
    (out / "adapter_config.json").write_text(json.dumps(config))
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    tokenizer.save_pretrained(out)
    (out / "chat_template.jinja").unlink(missing_ok=True)  # older transformers: config only
    if "chat_template" not in json.loads((out / "tokenizer_config.json").read_text()):
        fields = json.loads((out / "tokenizer_config.json").read_text())
        fields["chat_template"] = tokenizer.chat_template
        (out / "tokenizer_config.json").write_text(json.dumps(fields))
    (out / "trainer_state.json").write_text(
        json.dumps({"global_step": 60, "log_history": [{"step": 60, "loss": 1.234}]})
    )
    return out


@pytest.fixture(scope="module")
def base(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    return base_model_files(resolve_base_model(str(tiny_model_dir), tiny_model_dir.parent))


def test_a_peft_folder_becomes_a_verified_bundle(
    any_store, base, tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder = peft_output(tiny_model_dir, tmp_path / "lora")
    result = import_adapter(any_store, folder, "imported", base, origin="lora")
    assert str(result.ref) == "imported@v0001"
    assert (result.rank, sorted(result.target_modules)) == (4, ["q_proj", "v_proj"])
    bundle = read_bundle(any_store, result.ref, tmp_path / "read")
    assert bundle.manifest.base_model.fingerprint == base.resolved.fingerprint
    # No template in a bare PEFT folder: the base's is recorded, and the import says so.
    assert bundle.chat_template == base.chat_template
    assert bundle.manifest.chat_template_sha256 == template_fingerprint(base.chat_template)
    assert result.chat_template_source == "base model" and result.warnings
    for filename in ("adapter_config.json", "adapter_model.safetensors"):
        assert (bundle.path / filename).read_bytes() == (folder / filename).read_bytes()
    assert bundle.trainer_state["format"] == IMPORT_FORMAT
    assert bundle.trainer_state["imported_from"] == "lora"


def test_an_unsloth_folder_keeps_its_own_template_and_its_trainer_state(
    base, tiny_model_dir: Path, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "store")
    folder = unsloth_output(tiny_model_dir, tmp_path / "lora_model")
    result = import_adapter(store, folder, "from-unsloth", base, origin="lora_model")
    bundle = read_bundle(store, result.ref, tmp_path / "read")
    assert result.chat_template_source == "adapter folder"
    assert (
        bundle.chat_template
        == json.loads((folder / "tokenizer_config.json").read_text())["chat_template"]
    )
    assert any("unsloth/mistral-7b-instruct-v0.3-bnb-4bit" in w for w in result.warnings)
    assert bundle.trainer_state["source_trainer_state"]["log_history"][0]["loss"] == 1.234


def _rewrite_tensors(folder: Path, change) -> None:  # type: ignore[no-untyped-def]
    from safetensors.torch import load_file, save_file

    tensors = load_file(folder / "adapter_model.safetensors")
    save_file(change(tensors), str(folder / "adapter_model.safetensors"))


def _edit_config(folder: Path, **fields: object) -> None:
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, **fields}))


def _nan(tensors: dict) -> dict:  # type: ignore[type-arg]
    first = sorted(tensors)[0]
    tensors[first][0, 0] = float("nan")
    return tensors


def _wider(tensors: dict) -> dict:  # type: ignore[type-arg]
    import torch

    # A LoRA for a base whose q_proj reads 96 features: not this base (64).
    return {
        k: torch.zeros(v.shape[0], 96) if ".q_proj.lora_A" in k else v for k, v in tensors.items()
    }


@pytest.mark.parametrize(
    ("spoil", "words"),
    [
        (
            lambda f: _edit_config(f, target_modules=["q_proj", "lm_head"]),
            "lm_head are not allowed",
        ),
        (lambda f: _edit_config(f, use_dora=True), "use_dora is set"),
        (
            lambda f: _rewrite_tensors(f, _wider),
            "is 64x64 in the base model, the adapter expects 64x96",
        ),
        (lambda f: _rewrite_tensors(f, _nan), "NaN or infinite"),
        (lambda f: (f / "adapter_model.safetensors").rename(f / "adapter_model.bin"), "pickle"),
        (lambda f: (f / "adapter_config.json").write_text("[1, 2]"), "must be a JSON object"),
    ],
    ids=["lm-head", "dora", "shapes", "nan", "pickle", "config"],
)
def test_what_the_gateway_would_refuse_is_refused_before_anything_is_written(
    spoil, words: str, base, tiny_model_dir: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store = LocalStore(tmp_path / "store")
    folder = peft_output(tiny_model_dir, tmp_path / "lora")
    spoil(folder)
    with pytest.raises(BundleError, match=words):
        import_adapter(store, folder, "spoiled", base, origin="lora")
    assert list(store.list("adapters/")) == []


def test_rank_above_the_serving_limit_is_refused(
    base, tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder = peft_output(tiny_model_dir, tmp_path / "wide", rank=32)
    with pytest.raises(BundleError, match="rank 32 exceeds the maximum 16") as refused:
        import_adapter(LocalStore(tmp_path / "store"), folder, "wide", base, origin="wide")
    assert refused.value.code == "rank_too_high"  # type: ignore[attr-defined]
    result = import_adapter(
        LocalStore(tmp_path / "store"), folder, "wide", base, origin="wide", max_rank=32
    )  # a gateway configured for it
    assert result.rank == 32


def test_the_cli_says_what_is_wrong_in_one_line(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADVISOR_STORE_URL", f"file://{tmp_path / 'store'}")
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    run = tmp_path / "outputs"
    (run / "checkpoint-60").mkdir(parents=True)
    (run / "checkpoint-120").mkdir()
    cases = {
        str(run): "no adapter_config.json and no adapter_model.safetensors (not a PEFT adapter "
        "folder); it holds checkpoint-120, checkpoint-60: import one of them",
        str(tmp_path / "nowhere"): "is not a folder",
    }
    for source, words in cases.items():
        result = invoke(
            "adapters", adapters_app, "import", source, "--name", "x", "--base", str(tiny_model_dir)
        )
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and words in " ".join(result.output.split())
    folder = peft_output(tiny_model_dir, run / "checkpoint-120")
    done = invoke(
        "adapters",
        adapters_app,
        "import",
        str(folder),
        "--name",
        "run",
        "--base",
        str(tiny_model_dir),
    )
    assert done.exit_code == 0, done.output
    assert done.output.strip().endswith("run@v0001")
    listed = invoke("adapters", adapters_app, "list")
    assert listed.exit_code == 0 and "run@v0001" in listed.output


def random_lora(base_dir: Path, out: Path, rank: int = 8) -> Path:
    """A PEFT LoRA folder on the attention projections of `base_dir`, with random weights,
    written without loading the model (its shapes come from config.json)."""
    import torch
    from safetensors.torch import save_file

    from advisor_shared.model_files import read_chat_template, read_linear_shapes

    shapes = read_linear_shapes(base_dir) or {}
    generator = torch.Generator().manual_seed(7)
    tensors = {}
    for module, (out_features, in_features) in shapes.items():
        if module.rsplit(".", 1)[-1] in ("q_proj", "v_proj"):
            prefix = f"base_model.model.{module}"
            tensors[f"{prefix}.lora_A.weight"] = torch.randn(rank, in_features, generator=generator)
            tensors[f"{prefix}.lora_B.weight"] = (
                torch.randn(out_features, rank, generator=generator) * 0.05
            )
    out.mkdir(parents=True)
    save_file(tensors, str(out / "adapter_model.safetensors"))
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "r": rank,
        "lora_alpha": 2 * rank,
        "target_modules": ["q_proj", "v_proj"],
        "lora_dropout": 0.0,
        "bias": "none",
        "base_model_name_or_path": str(base_dir),
    }
    (out / "adapter_config.json").write_text(json.dumps(config))
    (out / "chat_template.jinja").write_text(read_chat_template(base_dir) or "")
    return out


def _trained_ledger() -> dict:  # type: ignore[type-arg]
    """A handoff ledger as the trainer writes it: two sessions, the loss, the recipe."""
    from advisor_trainer.checkpoints.ledger import HandoffLedger, SessionRecord

    ledger = HandoffLedger(
        run_name="advisor",
        base_model="smollm2-135m-instruct",
        global_step=24,
        total_steps=24,
        steps_per_epoch=12,
        samples_consumed=96,
        tokens_consumed=20_000,
        data_order={
            "seed": 3,
            "kind": "length-grouped",
            "train_examples": 48,
            "validation_examples": 6,
        },
        schedule={"kind": "cosine", "peak_lr": 0.0002, "warmup_steps": 2, "total_steps": 24},
        seeds={"seed": 3, "data_seed": 3, "lora_init_seed": 3},
        training_shape={
            "train_digest": "ab" * 32,
            "learning_rate": 0.0002,
            "lora_r": 16,
            "lora_alpha": 32,
            "lora_target_modules": ["q_proj", "v_proj"],
            "loss_on": "assistant",
            "max_seq_len": 1024,
            "micro_batch_size": 4,
            "gradient_accumulation_steps": 1,
            "lr_scheduler_type": "cosine",
            "warmup_ratio": 0.1,
        },
        loss_history=[{"step": 24, "loss": 1.75}],
        eval_history=[{"step": 24, "eval_loss": 2.48}],
        sessions=[
            SessionRecord(
                index=0,
                started_at="2026-11-28T10:00:00+00:00",
                device_name="P100",
                device_kind="cuda",
                compute_capability="6.0",
                dtype="float16",
                backend="hf_bnb",
                optimizer="adamw",
                first_step=0,
                steps=8,
                wall_time_s=31.5,
                stop_reason="session budget",
            ),
            SessionRecord(
                index=1,
                started_at="2026-11-28T11:00:00+00:00",
                device_name="T4",
                device_kind="cuda",
                compute_capability="7.5",
                dtype="float16",
                backend="hf_bnb",
                optimizer="adamw",
                first_step=8,
                steps=16,
                wall_time_s=60.2,
                stop_reason="finished",
            ),
        ],
    )
    return ledger.to_dict()


def test_an_export_is_a_peft_folder_peft_loads_on_the_embedded_model(
    embedded_model_dir: Path, tmp_path: Path
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    store = LocalStore(tmp_path / "store")
    lora = random_lora(embedded_model_dir, tmp_path / "lora")
    (lora / "trainer_state.json").write_text(json.dumps(_trained_ledger()))
    resolved = resolve_base_model(str(embedded_model_dir), tmp_path)
    ref = write_bundle(
        store,
        "advisor",
        lora,
        base_model_id="smollm2-135m-instruct",
        base_fingerprint=resolved.fingerprint,
        chat_template_sha256=template_fingerprint((lora / "chat_template.jinja").read_text()),
    )
    report = {
        "job_id": "ev-1",
        "baseline": "base",
        "headline": {
            "fidelity_delta": {"advisor": [0.01, 0.03, 0.05]},
            "judge_position_consistency": 0.0,
        },
        "candidates": [
            {"name": "base", "adapter": None},
            {"name": "advisor", "adapter": {"ref": "advisor@v0001"}},
        ],
        "comparisons": [
            {
                "challenger": "advisor",
                "verdict": "advisor vs base: closer to the references, no judged preference",
            }
        ],
    }
    store.put_bytes("evaluations/ev-1/report/report.json", json.dumps(report).encode())

    result = export_peft_folder(store, BundleRef.parse(str(ref)), tmp_path / "exported")
    out = result.path
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        "chat_template.jinja",
    ]
    ids = torch.tensor([[1, 42, 7, 99, 3]])
    base_model = AutoModelForCausalLM.from_pretrained(embedded_model_dir).eval()
    with torch.no_grad():
        plain = base_model(ids).logits
        model = PeftModel.from_pretrained(base_model, str(out)).eval()
        exported = model(ids).logits
        model.load_adapter(str(lora), adapter_name="trained")  # the folder it came from
        model.set_adapter("trained")
        reference = model(ids).logits
    assert torch.equal(exported, reference)  # exactly the adapter that was trained
    assert not torch.allclose(exported, plain)  # and it is applied

    card = (out / "README.md").read_text()
    assert card.startswith('---\nlibrary_name: peft\nbase_model: "smollm2-135m-instruct"\n')
    for words in (
        "| 0 | 2026-11-28T10:00:00+00:00 | P100 | float16 | hf_bnb | 0–8 | 31.5 s |",
        "| 1 | 2026-11-28T11:00:00+00:00 | T4 |",
        "training conversations: 48",
        "last validation loss | 2.48 at step 24",
        resolved.fingerprint,
        "advisor vs base: closer to the references, no judged preference",
        "[0.01, 0.03, 0.05]",
        "--lora-modules advisor=",
    ):
        assert words in card, words


def test_the_export_has_the_layout_vllm_reads(tiny_model_dir: Path, tmp_path: Path) -> None:
    """vLLM's LoRA loader reads adapter_config.json (peft_type, r, lora_alpha, target_modules;
    DoRA and modules_to_save unsupported) and adapter_model.safetensors, whose tensors it
    matches as `base_model.model.<module>.lora_{A,B}.weight`."""
    store = LocalStore(tmp_path / "store")
    lora = make_lora_dir(tiny_model_dir, tmp_path / "lora", seed=2)
    ref = write_bundle(
        store,
        "advisor",
        lora,
        base_model_id="mistralai/Mistral-7B-Instruct-v0.3",
        base_fingerprint="hub:mistralai/Mistral-7B-Instruct-v0.3",
        chat_template_sha256=template_fingerprint((lora / "chat_template.jinja").read_text()),
    )
    out = export_peft_folder(store, ref, tmp_path / "for-vllm").path
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 4 and config["lora_alpha"] == 8
    assert sorted(config["target_modules"]) == ["q_proj", "v_proj"]
    assert not config.get("use_dora") and not config.get("modules_to_save")
    assert config["base_model_name_or_path"] == "mistralai/Mistral-7B-Instruct-v0.3"
    tensors = inspect_safetensors(out / "adapter_model.safetensors")
    assert tensors and all(LORA_TENSOR.match(name) for name in tensors)
    assert (
        not (out / "adapter_model.bin").exists()
        and not (out / "new_embeddings.safetensors").exists()
    )
    assert "No evaluation of this bundle is in the store." in (out / "README.md").read_text()


def test_an_export_never_writes_into_an_existing_folder(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "store")
    lora = make_lora_dir(tiny_model_dir, tmp_path / "lora", seed=2)
    ref = write_bundle(
        store,
        "advisor",
        lora,
        base_model_id="tiny",
        base_fingerprint="sha256:x",
        chat_template_sha256=template_fingerprint((lora / "chat_template.jinja").read_text()),
    )
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(BundleError, match="already exists and is not an empty folder"):
        export_peft_folder(store, ref, taken)
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".taken.")]  # no leftovers
    shutil.rmtree(taken)
    taken.mkdir()
    assert export_peft_folder(store, ref, taken).path == taken  # an empty folder is fine
    assert [b.ref for b in list_bundles(store)] == ["advisor@v0001"]
