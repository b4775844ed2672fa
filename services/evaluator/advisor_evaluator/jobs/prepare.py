"""Turn a request into the job's plan: the items after hygiene, the candidates and what each is.

The plan is written once (`plan.json`) and every later step reads it, so a job re-driven after a
crash evaluates exactly the same items with the same settings.
"""

from __future__ import annotations

from typing import Any

from advisor_shared.bundle import BundleRef, list_versions, read_manifest, resolve_ref
from advisor_shared.errors import AdvisorError

from ..schemas import REFERENCE_METRICS, EvaluationCreate
from ..scoring.hygiene import apply_hygiene
from .datasets import first_user_turns, load_items
from .runtime import Runtime


def adapter_of(
    runtime: Runtime, name: str, listing: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The adapter bundle behind a served model name, with its training template and base
    model; None for a base model. The gateway may name the bundle in its model listing
    (`adapter`); otherwise the name itself is read as `name[@version]`."""
    declared = (listing or {}).get("adapter")
    text = declared if isinstance(declared, str) else name
    try:
        ref = BundleRef.parse(text)
        if not list_versions(runtime.store, ref.name):
            return None
        ref = resolve_ref(runtime.store, ref)
        manifest = read_manifest(runtime.store, ref)
    except AdvisorError:
        return None
    return {
        "ref": str(ref),
        "version_assumed": "@" not in text,
        "chat_template_sha256": manifest.chat_template_sha256,
        "base_model": manifest.base_model.id,
    }


def build_plan(
    runtime: Runtime, spec: EvaluationCreate, listings: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Load and clean the prompts, describe the candidates, decide which stages run."""
    items = load_items(spec, runtime.store)
    training = (
        first_user_turns(runtime.store, spec.training_dataset, "training_dataset")
        if spec.training_dataset
        else None
    )
    hygiene = apply_hygiene(
        items,
        training,
        spec.hygiene.near_duplicate_threshold,
        spec.hygiene.exclude_training_overlap,
    )
    candidates = []
    for index, name in enumerate(spec.candidates):
        candidates.append(
            {
                "key": f"c{index}",
                "name": name,
                "role": "baseline" if name == spec.baseline_name else "challenger",
                "adapter": adapter_of(runtime, name, (listings or {}).get(name)),
                # The gateway (like vLLM) names an adapter's base model as its `parent`.
                "parent": (listings or {}).get(name, {}).get("parent"),
            }
        )
    baseline = next(c["key"] for c in candidates if c["role"] == "baseline")
    key_of = {c["name"]: c["key"] for c in candidates}
    stages = ["generate"]
    skipped: dict[str, str] = {}
    if REFERENCE_METRICS & set(spec.metrics):
        stages.append("score")
    if "judge" in spec.metrics:
        stages.append("judge")
    if "factuality" in spec.metrics:
        if runtime.settings.auditor_url:
            stages.append("factuality")
        else:
            skipped["factuality"] = "no auditor is configured (ADVISOR_AUDITOR_URL is empty)"
    for metric, reason in (("judge", "not requested"), ("factuality", "not requested")):
        if metric not in spec.metrics:
            skipped.setdefault(metric, reason)
    settings = runtime.settings
    judge_on_inference_api = spec.judge is not None and spec.judge.endpoint is None
    return {
        "items": [item.to_dict() for item in hygiene.kept],
        "hygiene": hygiene.to_report(),
        "candidates": candidates,
        "baseline": baseline,
        "contrasts": [[key_of[a], key_of[b]] for a, b in spec.contrasts],
        "metrics": list(spec.metrics),
        "stages": stages,
        "skipped": skipped,
        "generation": spec.generation.model_dump(mode="json"),
        "judge": spec.judge.model_dump(mode="json") if spec.judge else None,
        "judge_on_inference_api": judge_on_inference_api,
        "bootstrap": {"resamples": spec.bootstrap_resamples, "seed": spec.bootstrap_seed},
        "bertscore": {
            "encoder": settings.bertscore_encoder,
            "num_layers": settings.bertscore_layers,
            "rescale": settings.bertscore_rescale_with_baseline,
        },
    }
