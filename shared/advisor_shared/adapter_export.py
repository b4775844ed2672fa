"""Export a bundle as a plain PEFT folder that the field's tools load as they are.

The folder holds `adapter_config.json`, `adapter_model.safetensors` (the bundle's bytes,
verified against the manifest on the way out), `chat_template.jinja` and a model card
`README.md`. `PeftModel.from_pretrained(base, DIR)` loads it, and so does vLLM
(`--lora-modules NAME=DIR`, or `/v1/load_lora_adapter`), which reads `r`, `lora_alpha`,
`target_modules` and the `base_model.model.<module>.lora_{A,B}.weight` tensors.
`base_model_name_or_path` is set to the base model the bundle was trained on, so
`AutoPeftModelForCausalLM.from_pretrained(DIR)` finds it when it is a hub id.
The target folder must not exist yet (or be empty): an export never overwrites anything.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .bundle import BundleRef, read_bundle
from .errors import BundleError
from .model_card import evaluations_of, model_card
from .store import ObjectStore

EXPORTED_FILES = (
    "adapter_config.json",
    "adapter_model.safetensors",
    "chat_template.jinja",
    "README.md",
)


@dataclass(frozen=True)
class ExportResult:
    ref: BundleRef
    path: Path
    evaluations: int


def export_peft_folder(store: ObjectStore, ref: BundleRef, target: Path) -> ExportResult:
    target = Path(target).expanduser()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BundleError(
            f"{str(target)[:200]!r} already exists and is not an empty folder; "
            "choose a new one (an export never overwrites)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="advisor-export-") as scratch:
        bundle = read_bundle(store, ref, Path(scratch))
        evaluations = evaluations_of(store, str(bundle.ref))
        # Staged beside the target, then renamed into place: never a half-written folder.
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            config = bundle.adapter_config
            config["base_model_name_or_path"] = bundle.manifest.base_model.id
            config["inference_mode"] = True
            (staging / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
            for filename in ("adapter_model.safetensors", "chat_template.jinja"):
                shutil.copyfile(bundle.path / filename, staging / filename)
            (staging / "README.md").write_text(model_card(bundle, evaluations), encoding="utf-8")
            if target.exists():
                target.rmdir()  # empty, checked above
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return ExportResult(bundle.ref, target, len(evaluations))
