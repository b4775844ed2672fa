"""Continuing a run from a committed bundle, on any machine.

`auto` takes the newest committed bundle of the run (a bundle whose upload was cut short has
no manifest and is invisible); `NAME@VERSION` pins one. Before anything is downloaded the
manifest's base-model fingerprint and chat-template sha256 are compared with the ones in use:
an adapter continued on another base or template would silently train something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor_shared.bundle import (
    AdapterBundle,
    BundleRef,
    list_versions,
    read_bundle,
    read_manifest,
    resolve_ref,
)
from advisor_shared.errors import BundleError
from advisor_shared.store import ObjectStore

from ..errors import HandoffMismatchError, TrainerError
from .ledger import HandoffLedger

# Fields of the ledger's training shape that must match for an exact ('restore') resume:
# change one and step k no longer means the same batches, schedule or adapter.
EXACT_RESUME_FIELDS = (
    "train_digest",
    "max_seq_len",
    "micro_batch_size",
    "gradient_accumulation_steps",
    "length_grouping",
    "length_group_size",
    "seed",
    "validation_fraction",
    "loss_on",
    "total_steps",
    "learning_rate",
    "lr_scheduler_type",
    "warmup_ratio",
    "lora_r",
    "lora_alpha",
    "lora_target_modules",
)


@dataclass(frozen=True)
class ResumePoint:
    bundle: AdapterBundle
    ledger: HandoffLedger

    @property
    def ref(self) -> BundleRef:
        return self.bundle.ref

    @property
    def optimizer_path(self) -> Path | None:
        path = self.bundle.path / "optimizer.pt"
        return path if path.is_file() else None


def locate(store: ObjectStore, resume: str, run_name: str) -> BundleRef | None:
    """The bundle to continue from: `auto` → newest committed (None when the run has none)."""
    if resume == "auto":
        versions = list_versions(store, run_name)
        return BundleRef(run_name, versions[-1]) if versions else None
    return resolve_ref(store, BundleRef.parse(resume))


def check_fingerprints(
    store: ObjectStore, ref: BundleRef, *, base_fingerprint: str, template_sha256: str
) -> None:
    """Refuse a bundle trained against another base model or chat template, naming both."""
    manifest = read_manifest(store, ref)
    if manifest.base_model.fingerprint != base_fingerprint:
        raise HandoffMismatchError(
            f"bundle {ref} was trained on base model {manifest.base_model.id!r} "
            f"(fingerprint {manifest.base_model.fingerprint}); the configured base has "
            f"fingerprint {base_fingerprint}"
        )
    if manifest.chat_template_sha256 != template_sha256:
        raise HandoffMismatchError(
            f"bundle {ref} was trained with chat template sha256 "
            f"{manifest.chat_template_sha256}; the tokenizer in use has {template_sha256}"
        )


def fetch(
    store: ObjectStore, ref: BundleRef, dest: Path, *, include_optimizer: bool
) -> ResumePoint:
    """Download and verify the bundle, and parse its ledger."""
    bundle = read_bundle(store, ref, dest, include_optimizer=include_optimizer)
    try:
        ledger = HandoffLedger.from_dict(bundle.trainer_state)
    except (KeyError, TypeError, ValueError) as exc:
        raise TrainerError(f"bundle {ref}: trainer_state.json is not a ledger ({exc})") from None
    return ResumePoint(bundle, ledger)


def check_training_shape(ledger: HandoffLedger, current: dict[str, Any], ref: BundleRef) -> None:
    """For an exact resume, the run's shape must be the bundle's; list every difference."""
    differences = [
        f"{name}: bundle {ledger.training_shape.get(name)!r}, now {current.get(name)!r}"
        for name in EXACT_RESUME_FIELDS
        if ledger.training_shape.get(name) != current.get(name)
    ]
    if differences:
        raise HandoffMismatchError(
            f"cannot continue {ref} exactly, the training shape changed: "
            + "; ".join(differences)
            + " (restore the original config, or use resume_mode: naive to keep only the weights)"
        )


def load_adapter_weights(model: Any, bundle_dir: Path) -> None:
    """Overwrite the model's LoRA weights with the bundle's; every key must match."""
    from peft import get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors.torch import load_file

    state = load_file(str(Path(bundle_dir) / "adapter_model.safetensors"))
    # Shapes first: peft would refuse another rank with a size-mismatch RuntimeError.
    expected = get_peft_model_state_dict(model)
    for key, tensor in state.items():
        if key in expected and tuple(tensor.shape) != tuple(expected[key].shape):
            raise HandoffMismatchError(
                f"adapter weight {key} has shape {tuple(tensor.shape)}, the model expects "
                f"{tuple(expected[key].shape)} (another rank or base model?)"
            )
    non_finite = [
        key
        for key, tensor in state.items()
        if tensor.is_floating_point() and not bool(tensor.isfinite().all())
    ]
    if non_finite:
        raise BundleError(
            f"{len(non_finite)} adapter weight(s) hold NaN or infinite values (e.g. "
            f"{non_finite[0]}): the run this bundle comes from was diverging; resume from an "
            "earlier version"
        )
    result = set_peft_model_state_dict(model, state)
    unexpected = list(getattr(result, "unexpected_keys", []) or [])
    missing = [k for k in getattr(result, "missing_keys", []) or [] if "lora_" in k]
    if unexpected or missing:
        raise HandoffMismatchError(
            f"adapter weights do not fit the model: {len(unexpected)} unexpected, "
            f"{len(missing)} missing (e.g. {(unexpected or missing)[0]})"
        )
