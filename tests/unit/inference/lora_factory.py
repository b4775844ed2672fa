"""Real LoRA adapters for tests: peft on the tiny model, random non-zero weights so that the
adapter measurably changes outputs, published as committed bundles."""

from __future__ import annotations

import json
from pathlib import Path

from advisor_shared.bundle import BundleRef, write_bundle
from advisor_shared.chat_template import template_fingerprint
from advisor_shared.models import resolve_base_model
from advisor_shared.store import ObjectStore

TINY_TEMPLATE_FILE = "chat_template.jinja"


def make_lora_dir(
    base_dir: Path,
    out_dir: Path,
    *,
    seed: int = 1,
    rank: int = 4,
    targets: tuple[str, ...] = ("q_proj", "v_proj"),
    zero: bool = False,
) -> Path:
    """Save a PEFT LoRA adapter for `base_dir` plus the bundle's extra files into `out_dir`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        target_modules=list(targets),
        task_type="CAUSAL_LM",
        init_lora_weights=True if zero else False,
    )
    peft_model = get_peft_model(model, config)
    if not zero:
        # Large enough that a random 2-layer model's greedy choices change.
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if "lora_" in name:
                    param.normal_(0, 0.5)
    peft_model.save_pretrained(out_dir)
    template = AutoTokenizer.from_pretrained(base_dir).chat_template
    (out_dir / TINY_TEMPLATE_FILE).write_text(template)
    (out_dir / "trainer_state.json").write_text(json.dumps({"global_step": 1}))
    return out_dir


def publish(
    store: ObjectStore,
    name: str,
    adapter_dir: Path,
    base_dir: Path,
    cache_dir: Path,
    *,
    fingerprint: str | None = None,
) -> BundleRef:
    """Write `adapter_dir` as the next committed version of `name` in `store`."""
    base = resolve_base_model(str(base_dir), cache_dir)
    template = (adapter_dir / TINY_TEMPLATE_FILE).read_text()
    return write_bundle(
        store,
        name,
        adapter_dir,
        base_model_id=str(base_dir.name),
        base_fingerprint=fingerprint or base.fingerprint,
        chat_template_sha256=template_fingerprint(template),
    )
