"""The merged export: base + adapter as one fp16 safetensors model, for engines without LoRA.

The served and evaluated model stays the unmerged adapter (docs/design.md, lesson 6); this export is
for engines that cannot load one. It is built from the committed bundle, not from the live
model, so it holds exactly what the bundle holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advisor_shared.bundle import BundleRef, read_bundle
from advisor_shared.store import ObjectStore


def export_merged(plan: Any, store: ObjectStore, ref: BundleRef) -> Path:
    """Write `<output_dir>/merged/<name>-<version>/` and return it."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    output_dir = Path(plan.config.output_dir)
    bundle = read_bundle(store, ref, output_dir / "export-source")
    base = AutoModelForCausalLM.from_pretrained(plan.base.location, dtype=torch.float16)
    merged = PeftModel.from_pretrained(base, str(bundle.path)).merge_and_unload()
    target = output_dir / "merged" / f"{ref.name}-{ref.version}"
    merged.save_pretrained(str(target), safe_serialization=True)
    plan.tokenizer.save_pretrained(str(target))
    (target / "chat_template.jinja").write_text(plan.chat_template, encoding="utf-8")
    return target
