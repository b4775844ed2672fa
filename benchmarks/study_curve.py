"""The embedded study's two findings against training steps (issue 18, part 3).

(a) the fine-tune moves toward its references: Δ BERTScore F1 (fine-tune − base) > 0, its
    paired bootstrap CI excluding 0;
(b) the fine-tune trained on the ungated data makes more source-contradicted claims per answer
    than the one trained on the gated data: Δ contradicted (ungated − gated) > 0, paired CI
    excluding 0.

One run per arm, as the demo trains it (the embedded profile: its sequence length, batch and
learning rate, with a constant schedule), but in one session and for the most steps asked;
its periodic bundles are the checkpoints. With a constant schedule and no warm-up the adapter
after k steps of that run is the adapter of a k-step run (same data order, same updates), so
each point is what the demo would train with `--steps k` (save the handoff's fresh Adam
moments, docs/trainer.md). Every checkpoint answers the same prompts (the demo's sample of
data/sample/test.jsonl after hygiene) through the gateway's own HF engine, in-process, greedy;
answers are scored with the evaluator's BERTScore and audited with the auditor's engine, the
code paths `advisor demo` runs. The judge is not run: neither finding needs it.

    python benchmarks/study_curve.py --steps 0,24,48,96 --prompts 24 \\
        --out benchmarks/results/study_curve.json

The JSON holds the command, the profile, the host's load, per checkpoint the two findings
with their CIs and minimum detectable effects, the truncation rate, and every answer's scores
and claim counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from advisor_auditor.audit_items import AuditItem
from advisor_auditor.corpus import build_corpus, read_corpus_folder
from advisor_auditor.engine import engine_for
from advisor_auditor.summary import answer_counts
from advisor_demo.pipeline import (
    DemoContext,
    DemoPaths,
    TrainingRun,
    adapter_name,
    audit_training_data,
    finished_ledger,
    training_config,
)
from advisor_demo.processes import advisor_command, run_logged
from advisor_demo.profile import EMBEDDED
from advisor_evaluator.core.config import Settings as EvaluatorSettings
from advisor_evaluator.scoring.hygiene import apply_hygiene
from advisor_evaluator.scoring.items import EvalItem, item_key
from advisor_evaluator.scoring.reference import bertscores, rouge_l
from advisor_evaluator.scoring.statistics import (
    bootstrap_mean_ci,
    minimum_detectable_effect,
    paired_deltas,
    sample_sd,
    wilson_interval,
)
from advisor_inference.engines.base import GenerationRequest, SamplingParams
from advisor_inference.engines.hf.engine import HFEngine
from advisor_shared.bundle import BundleRef, list_versions, read_bundle
from advisor_shared.dataset import load_dataset
from advisor_shared.models import materialise_smollm2, model_fingerprint
from advisor_shared.settings import AdvisorSettings

REPO = Path(__file__).resolve().parents[1]
ARMS = (("ungated", "train.jsonl"), ("gated", "clean.jsonl"))


def eval_items(prompts: int, offset: int = 0, seed: int = 42) -> list[EvalItem]:
    """The demo's prompts: a seeded sample of the test split, first user turn vs first
    assistant turn, then the evaluator's hygiene (duplicates out). A non-zero `offset` skips
    the sample's first prompts: the ones a profile was chosen on stay out of its check."""
    conversations = load_dataset(REPO / "data" / "sample" / "test.jsonl")
    order = list(range(len(conversations)))
    random.Random(seed).shuffle(order)
    if offset < 0 or prompts < 1 or offset + prompts > len(order):
        raise SystemExit(
            f"--prompt-offset {offset} and --prompts {prompts} must pick prompts 1..{len(order)} "
            "(offset ≥ 0, prompts ≥ 1)"
        )
    chosen = [conversations[i] for i in order[offset : offset + prompts]]
    items = [
        EvalItem(item_key(n), c.id, c.first_user_turn, c.first_assistant_turn, c.topic)
        for n, c in enumerate(chosen)
    ]
    return apply_hygiene(items, None, 0.9, False).kept


def train_arm(
    ctx: DemoContext, label: str, dataset: Path, every: int, seed: int | None = None
) -> str:
    """One session of the profile's steps, a bundle every `every` steps; reused when done.
    A `seed` replaces the trainer's data-order and LoRA-init seeds (another draw of the run)."""
    run = TrainingRun(label, adapter_name(f"curve-{label}", ctx.profile, dataset), dataset)
    if finished_ledger(ctx, run.adapter) is None:
        config = training_config(ctx, run)
        values = yaml.safe_load(config.read_text())
        values |= {"checkpoint_every_steps": every, "checkpoint_async": False}
        if seed is not None:
            values |= {"seed": seed, "lora_init_seed": seed}
        config.write_text(yaml.safe_dump(values, sort_keys=True))
        events = ctx.paths.logs / f"{run.adapter}.jsonl"
        events.unlink(missing_ok=True)
        run_logged(
            advisor_command("train", "--config", str(config), "--events", str(events)),
            ctx.env,
            ctx.paths.logs / f"{run.adapter}.log",
        )
        if finished_ledger(ctx, run.adapter) is None:
            raise SystemExit(f"{run.adapter}: the training run did not finish")
    return run.adapter


def checkpoints(ctx: DemoContext, adapter: str, wanted: list[int]) -> dict[int, Path]:
    """The bundle folder of each wanted step of `adapter` (every step must have a bundle)."""
    found: dict[int, Path] = {}
    for version in list_versions(ctx.store, adapter):
        bundle = read_bundle(ctx.store, BundleRef(adapter, version), ctx.paths.work / "bundles")
        found[int(bundle.trainer_state["global_step"])] = bundle.path
    missing = [s for s in wanted if s not in found]
    if missing:
        raise SystemExit(f"{adapter}: no bundle at step(s) {missing}; have {sorted(found)}")
    return {s: found[s] for s in wanted}


async def generate_all(
    base: Path, adapters: dict[str, Path], items: list[EvalItem], new_tokens: int, batch: int
) -> dict[str, list[dict[str, Any]]]:
    """Every candidate's greedy answer to every item through one HF engine (base + adapters),
    all requests at once so the engine batches them as the gateway would."""
    engine = HFEngine(
        str(base),
        base_fingerprint=model_fingerprint(base),
        max_batch_size=batch,
        batch_window_ms=50.0,
    )
    await engine.start()
    for name, folder in adapters.items():
        await engine.load_adapter(name, folder)
    params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=new_tokens)

    async def answer(model: str, item: EvalItem) -> dict[str, Any]:
        request = GenerationRequest(model, [{"role": "user", "content": item.prompt}], params)
        result = await engine.generate(request)
        return {
            "text": result.text,
            "finish_reason": result.finish_reason,
            "completion_tokens": result.completion_tokens,
        }

    models = ["base", *adapters]
    try:
        answers = await asyncio.gather(*(answer(m, i) for m in models for i in items))
    finally:
        await engine.close()
    return {m: answers[k * len(items) : (k + 1) * len(items)] for k, m in enumerate(models)}


def paired(a: list[float], b: list[float], resamples: int = 1000) -> dict[str, Any]:
    """Mean of a − b item by item, its paired bootstrap CI, the SD of the differences and the
    minimum detectable effect at this n."""
    deltas = paired_deltas(a, b)
    estimate = bootstrap_mean_ci(deltas, resamples=resamples, seed=42).to_dict()
    sd = sample_sd(deltas)
    mde = minimum_detectable_effect(sd, len(deltas))
    return estimate | {
        "sd": None if sd is None else round(sd, 6),
        "mde": None if mde is None else round(mde, 6),
        "excludes_zero": bool(
            estimate["low"] is not None and (estimate["low"] > 0 or estimate["high"] < 0)
        ),
    }


def score(
    items: list[EvalItem],
    answers: list[dict[str, Any]],
    audit_engine: Any,
    name: str,
    bert: dict[str, Any],
) -> list[dict[str, Any]]:
    """Per answer: BERTScore F1 and ROUGE-L vs the reference, claim counts vs the sources."""
    texts = [a["text"] for a in answers]
    f1 = [s["f1"] for s in bertscores(texts, [i.reference or "" for i in items], bert)]
    audits = audit_engine.audit(
        [
            AuditItem(
                i.id, [("user", i.prompt), ("assistant", t or "(empty answer)")], i.topic, name
            )
            for i, t in zip(items, texts, strict=True)
        ]
    )
    return [
        {
            "item": i.id,
            "bertscore_f1": round(f, 6),
            "rouge_l": round(rouge_l(t, i.reference or ""), 6),
            **answer_counts(audit),
            "truncated": a["finish_reason"] == "length",
            "completion_tokens": a["completion_tokens"],
            "text": t,
        }
        for i, t, f, audit, a in zip(items, texts, f1, audits, answers, strict=True)
    ]


def mean_ci(values: list[float]) -> dict[str, Any]:
    return bootstrap_mean_ci(values, resamples=1000, seed=42).to_dict()


def summarise(
    per_answer: dict[str, list[dict[str, Any]]], steps: list[int]
) -> list[dict[str, Any]]:
    """Per step: both findings with their CIs, and each arm's own figures."""
    base = per_answer["base"]
    points = []
    for step in steps:
        arms = {
            arm: per_answer["base"] if step == 0 else per_answer[f"{arm}-{step}"] for arm, _ in ARMS
        }
        figures: dict[str, Any] = {}
        for arm, rows in arms.items():
            truncated = sum(r["truncated"] for r in rows)
            confident = sum(r["confident_errors"] > 0 for r in rows)
            figures[arm] = {
                "bertscore_f1": mean_ci([r["bertscore_f1"] for r in rows]),
                "fidelity_delta_vs_base": paired(
                    [r["bertscore_f1"] for r in rows], [r["bertscore_f1"] for r in base]
                ),
                "contradicted_per_answer": mean_ci([r["contradicted"] for r in rows]),
                "supported_per_answer": mean_ci([r["supported"] for r in rows]),
                "claims_per_answer": mean_ci([r["claims"] for r in rows]),
                "confident_error_share": wilson_interval(confident, len(rows)).to_dict(),
                "truncated_rate": wilson_interval(truncated, len(rows)).to_dict(),
                "mean_completion_tokens": round(
                    sum(r["completion_tokens"] for r in rows) / len(rows), 1
                ),
            }
        contrast = paired(
            [r["contradicted"] for r in arms["ungated"]], [r["contradicted"] for r in arms["gated"]]
        )
        points.append(
            {
                "step": step,
                "finding_a_fidelity_delta": {a: figures[a]["fidelity_delta_vs_base"] for a in arms},
                "finding_b_contradicted_delta_ungated_minus_gated": contrast,
                "arms": figures,
            }
        )
    return points


def scorer() -> tuple[Any, dict[str, Any]]:
    """The auditor's engine on the sample corpus and the evaluator's BERTScore settings."""
    evaluator = EvaluatorSettings()
    bert = {
        "encoder": evaluator.bertscore_encoder,
        "num_layers": evaluator.bertscore_layers,
        "rescale": evaluator.bertscore_rescale_with_baseline,
    }
    return engine_for(build_corpus(read_corpus_folder(REPO / "data/sample/sources"))), bert


def train_and_generate(args: argparse.Namespace, steps: list[int]) -> dict[str, Any]:
    """Gate, train both arms, answer the prompts with every checkpoint; what was run."""
    trained = [s for s in steps if s > 0]
    every = math.gcd(*trained) if trained else 1
    started = time.monotonic()
    timings: dict[str, float] = {}
    settings = AdvisorSettings()
    profile = EMBEDDED.with_overrides(
        train_steps=max(trained, default=1),
        learning_rate=args.learning_rate,
        max_seq_len=args.max_seq_len,
        new_tokens=args.new_tokens,
        eval_prompts=args.prompts,
    )
    paths = DemoPaths(repo=REPO, out=args.work / "out", work=args.work)
    ctx = DemoContext(paths, profile, settings.cache_dir)
    base = materialise_smollm2(settings.cache_dir)
    auditor = ctx.auditor()
    try:
        audit = audit_training_data(ctx, auditor)
    finally:
        auditor.stop()
    datasets = {
        "ungated": REPO / "data/sample/train.jsonl",
        "gated": Path(audit["dir"]) / "clean.jsonl",
    }
    timings["gate"] = round(time.monotonic() - started, 1)
    adapters: dict[str, Path] = {}
    for arm, _ in ARMS:
        mark = time.monotonic()
        name = train_arm(ctx, arm, datasets[arm], every, args.seed) if trained else ""
        timings[f"train {arm}"] = round(time.monotonic() - mark, 1)
        if trained:
            for step, folder in checkpoints(ctx, name, trained).items():
                adapters[f"{arm}-{step}"] = folder
    items = eval_items(args.prompts, args.prompt_offset)
    mark = time.monotonic()
    answers = asyncio.run(generate_all(base, adapters, items, args.new_tokens, args.batch))
    timings["generate"] = round(time.monotonic() - mark, 1)
    return {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "profile": profile.to_dict(),
        "training_seed": args.seed,
        "prompt_offset": args.prompt_offset,
        "checkpoint_every_steps": every,
        "adapters": {arm: str(path.parent.name) for arm, path in adapters.items()},
        "timings_s": timings,
        "items": items,
        "answers": answers,
    }


def stored_answers(path: Path) -> dict[str, Any]:
    """The answers of an earlier run of this script, to score again (the checkpoints and
    prompts it recorded; nothing is trained or generated)."""
    earlier = json.loads(path.read_text())
    items = eval_items(earlier["profile"]["eval_prompts"], earlier.get("prompt_offset", 0))
    if [i.id for i in items] != earlier["prompts"]:
        raise SystemExit(f"{path}: its prompts are not this sample's")
    answers = {
        name: [
            {
                "text": r["text"],
                "completion_tokens": r["completion_tokens"],
                "finish_reason": "length" if r["truncated"] else "stop",
            }
            for r in rows
        ]
        for name, rows in earlier["per_answer"].items()
    }
    run = earlier.get("answers_from") or {k: earlier[k] for k in ("command", "finished_at")}
    run = run | {"timings_s": earlier.get("answers_from", earlier)["timings_s"]}
    steps = [p["step"] for p in earlier["points"]]
    keep = ("profile", "training_seed", "prompt_offset", "checkpoint_every_steps", "adapters")
    return {
        "answers_from": run,
        "items": items,
        "answers": answers,
        "steps": steps,
        **{k: earlier[k] for k in keep if k in earlier},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--steps", default="0,24,48,96", help="checkpoints, comma-separated (0 = the base model)"
    )
    parser.add_argument("--prompts", type=int, default=EMBEDDED.eval_prompts)
    parser.add_argument("--new-tokens", type=int, default=EMBEDDED.new_tokens)
    parser.add_argument("--learning-rate", type=float, default=EMBEDDED.learning_rate)
    parser.add_argument("--max-seq-len", type=int, default=EMBEDDED.max_seq_len)
    parser.add_argument(
        "--prompt-offset",
        type=int,
        default=0,
        help="skip the sample's first prompts (a check on prompts the profile was not chosen on)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="the trainer's data-order and LoRA-init seed (default: the trainer's own)",
    )
    parser.add_argument("--batch", type=int, default=32, help="engine rows per decode step")
    parser.add_argument("--work", type=Path, default=REPO / "var" / "study_curve")
    parser.add_argument(
        "--rescore",
        type=Path,
        default=None,
        help="score and audit again the answers of an earlier result file",
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/study_curve.json")
    args = parser.parse_args()
    started = time.monotonic()
    if args.rescore is not None:
        run = stored_answers(args.rescore)
        steps = run.pop("steps")
    else:
        steps = sorted({int(s) for s in args.steps.split(",")})
        run = train_and_generate(args, steps)
    items, answers = run.pop("items"), run.pop("answers")
    mark = time.monotonic()
    audit_engine, bert = scorer()
    per_answer = {
        name: score(items, rows, audit_engine, name, bert) for name, rows in answers.items()
    }
    scoring_s = round(time.monotonic() - mark, 1)
    if args.rescore is None:
        run["timings_s"] |= {
            "score and audit": scoring_s,
            "total": round(time.monotonic() - started, 1),
        }
    else:
        run["command"] = "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
        run["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        run["timings_s"] = {"score and audit": scoring_s}
    result = {
        "command": run.pop("command"),
        "finished_at": run.pop("finished_at"),
        "host": {
            "cpus": os.cpu_count(),
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
        },
        "method": "one training session per arm with a constant learning rate and no warm-up, "
        "a bundle every few steps; each checkpoint answers the same prompts greedily "
        "through the HF engine; the auditor counts each answer's distinct claims by "
        "verdict against the sources; paired bootstrap (1,000 resamples, seed 42) over "
        "prompts; MDE = (z_0.975 + z_0.8) x SD of the paired differences / sqrt(n)",
        **run,
        "prompts": [i.id for i in items],
        "points": summarise(per_answer, steps),
        "per_answer": per_answer,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    for point in result["points"]:
        a = point["finding_a_fidelity_delta"]
        b = point["finding_b_contradicted_delta_ungated_minus_gated"]
        trunc = {k: v["truncated_rate"]["value"] for k, v in point["arms"].items()}
        print(
            f"step {point['step']:>4}: Δ BERTScore ungated {a['ungated']['value']:+.4f} "
            f"[{a['ungated']['low']:+.4f}, {a['ungated']['high']:+.4f}], gated "
            f"{a['gated']['value']:+.4f} [{a['gated']['low']:+.4f}, {a['gated']['high']:+.4f}]; "
            f"Δ contradicted ungated−gated {b['value']:+.3f} [{b['low']:+.3f}, {b['high']:+.3f}] "
            f"(MDE {b['mde']}); truncated {trunc}"
        )
    print(f"wrote {args.out} in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
