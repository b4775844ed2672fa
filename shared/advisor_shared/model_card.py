"""The model card (README.md) of an exported adapter, written from what the bundle records.

Base model, data, recipe and sessions come from the bundle's manifest and its handoff ledger
(`trainer_state.json`); the evaluation headline from any evaluator report in the store that
evaluated this exact bundle. Nothing here is invented: a field the bundle does not record is
said to be unrecorded.
"""

from __future__ import annotations

import json
from typing import Any

from .bundle import AdapterBundle
from .errors import StoreError
from .store import ObjectStore

REPORT_SUFFIX = "/report/report.json"
MAX_REPORTS = 3


def evaluations_of(store: ObjectStore, ref: str) -> list[dict[str, Any]]:
    """Evaluator reports (`evaluations/<job>/report/report.json`) with a candidate served from
    bundle `ref`, as `{job_id, candidate, headline, verdicts}`; the last few, by job id."""
    found = []
    for key in store.list("evaluations/"):
        if not key.endswith(REPORT_SUFFIX):
            continue
        try:
            report = json.loads(store.get_bytes(key))
        except (StoreError, ValueError):
            continue  # an unreadable report says nothing about this bundle
        names = [
            c.get("name")
            for c in report.get("candidates") or []
            if (c.get("adapter") or {}).get("ref") == ref
        ]
        if names:
            verdicts = [
                c.get("verdict")
                for c in report.get("comparisons") or []
                if c.get("challenger") in names and c.get("verdict")
            ]
            found.append(
                {
                    "job_id": report.get("job_id") or key.split("/")[1],
                    "candidate": names[0],
                    "headline": report.get("headline") or {},
                    "baseline": report.get("baseline"),
                    "verdicts": verdicts,
                }
            )
    return found[-MAX_REPORTS:]


def model_card(bundle: AdapterBundle, evaluations: list[dict[str, Any]]) -> str:
    manifest, ledger = bundle.manifest, bundle.trainer_state
    config = bundle.adapter_config
    ref = f"{manifest.name}@{manifest.version}"
    lines = [
        "---",
        "library_name: peft",
        f"base_model: {json.dumps(manifest.base_model.id)}",
        "pipeline_tag: text-generation",
        "tags: [lora, advisor-stack]",
        "---",
        "",
        f"# {ref}",
        "",
        f"A LoRA adapter for `{manifest.base_model.id}`, exported from the advisor-stack bundle "
        f"`{ref}` (committed {manifest.created_at}).",
        "",
        "## Base model",
        "",
        f"- id: `{manifest.base_model.id}`",
        f"- fingerprint: `{manifest.base_model.fingerprint}`",
        f"- chat template sha256: `{manifest.chat_template_sha256}` (the template it was trained "
        "with is `chat_template.jinja` here; serve it with that template)",
        f"- LoRA: rank {config.get('r')}, alpha {config.get('lora_alpha')}, on "
        f"{', '.join(config.get('target_modules') or [])}",
        "",
    ]
    if ledger.get("format") == "advisor-imported-adapter/1":
        lines += _imported(ledger)
    else:
        lines += _data(ledger) + _recipe(ledger) + _sessions(ledger)
    lines += _evaluation(evaluations) + _usage(manifest.base_model.id, manifest.name)
    return "\n".join(lines) + "\n"


def _imported(ledger: dict[str, Any]) -> list[str]:
    return [
        "## Provenance",
        "",
        f"Imported from `{ledger.get('imported_from')}` on {ledger.get('imported_at')} "
        f"(PEFT {ledger.get('peft_version') or 'version unrecorded'}; chat template from the "
        f"{ledger.get('chat_template_from')}). Its data, recipe and sessions were not recorded "
        "by advisor-stack.",
        "",
    ]


def _data(ledger: dict[str, Any]) -> list[str]:
    order, shape = ledger.get("data_order") or {}, ledger.get("training_shape") or {}
    return [
        "## Data",
        "",
        f"- training conversations: {order.get('train_examples', 'unrecorded')}, validation: "
        f"{order.get('validation_examples', 'unrecorded')}",
        f"- training set digest (sha256 of ids and tokens): `{shape.get('train_digest', 'unrecorded')}`",
        f"- order: {order.get('kind', 'unrecorded')}, seed {order.get('seed', 'unrecorded')}; "
        f"loss on {shape.get('loss_on', 'unrecorded')}",
        "",
    ]


def _recipe(ledger: dict[str, Any]) -> list[str]:
    shape, schedule = ledger.get("training_shape") or {}, ledger.get("schedule") or {}
    rows = [
        ("steps", f"{ledger.get('global_step')} of {ledger.get('total_steps')}"),
        (
            "learning rate",
            f"{shape.get('learning_rate')} ({shape.get('lr_scheduler_type')}, "
            f"warm-up ratio {shape.get('warmup_ratio')})",
        ),
        (
            "micro batch × accumulation",
            f"{shape.get('micro_batch_size')} × {shape.get('gradient_accumulation_steps')}",
        ),
        ("max sequence length", shape.get("max_seq_len")),
        (
            "LoRA",
            f"r={shape.get('lora_r')}, alpha={shape.get('lora_alpha')}, "
            f"{', '.join(shape.get('lora_target_modules') or [])}",
        ),
        ("seeds", ", ".join(f"{k} {v}" for k, v in (ledger.get("seeds") or {}).items())),
        (
            "schedule",
            ", ".join(f"{k} {v}" for k, v in schedule.items() if not isinstance(v, dict | list)),
        ),
        ("optimizer state in the bundle", "yes" if ledger.get("optimizer_saved") else "no"),
    ]
    losses = ledger.get("loss_history") or []
    evals = ledger.get("eval_history") or []
    if losses:
        rows.append(
            ("last training loss", f"{losses[-1].get('loss')} at step {losses[-1].get('step')}")
        )
    if evals:
        rows.append(
            (
                "last validation loss",
                f"{evals[-1].get('eval_loss', evals[-1].get('loss'))} "
                f"at step {evals[-1].get('step')}",
            )
        )
    return ["## Recipe", "", "| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]


def _sessions(ledger: dict[str, Any]) -> list[str]:
    sessions = ledger.get("sessions") or []
    if not sessions:
        return ["## Sessions", "", "The ledger records no session.", ""]
    lines = [
        "## Sessions (the handoff ledger)",
        "",
        "| # | started | device | dtype | backend | steps | wall time | peak memory | stop |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sessions:
        first, steps = s.get("first_step", 0), s.get("steps", 0)
        peak = s.get("peak_memory") or {}
        memory = ", ".join(f"{k} {v}" for k, v in peak.items() if isinstance(v, int | float | str))
        lines.append(
            f"| {s.get('index')} | {s.get('started_at')} | {s.get('device_name')} | "
            f"{s.get('dtype')} | {s.get('backend')} | {first}–{first + steps} | "
            f"{s.get('wall_time_s')} s | {memory or '-'} | {s.get('stop_reason')} |"
        )
    return [*lines, ""]


def _evaluation(evaluations: list[dict[str, Any]]) -> list[str]:
    lines = ["## Evaluation", ""]
    if not evaluations:
        return [*lines, "No evaluation of this bundle is in the store.", ""]
    for e in evaluations:
        headline = e["headline"]
        lines.append(
            f"Evaluation `{e['job_id']}` (as `{e['candidate']}`, baseline `{e['baseline']}`):"
        )
        lines += [f"- {verdict}" for verdict in e["verdicts"]]
        delta = (headline.get("fidelity_delta") or {}).get(e["candidate"])
        if delta:
            lines.append(f"- BERTScore F1 delta vs the baseline [low, point, high]: {delta}")
        for key in ("judge_position_consistency", "judge_unparseable_rate"):
            if headline.get(key) is not None:
                lines.append(f"- {key.replace('_', ' ')}: {headline[key]}")
        lines.append("")
    return lines


def _usage(base_id: str, name: str) -> list[str]:
    return [
        "## Use",
        "",
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM",
        "",
        f'model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("{base_id}"), '
        '"path/to/this/folder")',
        "```",
        "",
        "```bash",
        f"vllm serve {base_id} --enable-lora --lora-modules {name}=path/to/this/folder",
        "```",
    ]
