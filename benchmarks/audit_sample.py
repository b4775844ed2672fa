"""Measure the auditor on data/sample against its planted-error labels (issue 5).

The auditor never reads labels.jsonl or facts.yaml; only this harness does, after the audit.
A planted error counts as detected when a contradicted finding in the labelled turn covers the
planted text (`wrong_text`); a clean answer is a false positive when any of its claims is
contradicted. Figures are reported per split: the method was tuned on train, so test shows
whether it overfits.

    python benchmarks/audit_sample.py [--out benchmarks/results/audit_sample.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
VALUE_CLASSES = ("number", "date", "entity")
PREMISE_CLASSES = ("false_premise", "fabricated_program")


def load_labels(path: Path) -> dict[str, dict[str, Any]]:
    return {
        record["id"]: record
        for record in (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    }


def score_split(
    audits: list[Any], conversations: list[Any], labels: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Recall by planted class, false-positive rate on clean answers, estimate vs truth."""
    from advisor_shared.statistics import wilson_interval

    by_id = {a.item_id: a for a in audits}
    planted, detected = Counter(), Counter()
    class_agrees = 0
    clean_answers = false_positives = 0
    for conversation in conversations:
        label = labels[conversation.id]
        audit = by_id[conversation.id]
        for turn, message in enumerate(conversation.messages):
            if message.role != "assistant":
                continue
            errors = [f for f in audit.errors if f.turn == turn]
            if label["planted"] and label["turn"] == turn:
                planted[label["error_class"]] += 1
                hits = [
                    f
                    for f in errors
                    if _covers(message.content[f.start : f.end], label["wrong_text"])
                ]
                if hits:
                    detected[label["error_class"]] += 1
                    class_agrees += any(f.error_class == label["error_class"] for f in hits)
            else:
                clean_answers += 1
                false_positives += bool(errors)
    n = len(conversations)
    flagged = sum(by_id[c.id].flagged for c in conversations)
    true_planted = sum(labels[c.id]["planted"] for c in conversations)
    low, high = wilson_interval(flagged, n)
    recall = {c: round(detected[c] / planted[c], 4) for c in sorted(planted)}
    grouped = {
        "number_date_entity": _pooled(detected, planted, VALUE_CLASSES),
        "false_premise_and_fabricated": _pooled(detected, planted, PREMISE_CLASSES),
    }
    return {
        "conversations": n,
        "planted": dict(sorted(planted.items())),
        "detected": dict(sorted(detected.items())),
        "recall_by_class": recall,
        "recall_grouped": grouped,
        "class_agreement": round(class_agrees / max(sum(detected.values()), 1), 4),
        "clean_answers": clean_answers,
        "false_positives": false_positives,
        "false_positive_rate": round(false_positives / clean_answers, 4),
        "estimated_error_rate": round(flagged / n, 4),
        "wilson_ci": [round(low, 4), round(high, 4)],
        "true_planted_rate": round(true_planted / n, 4),
        "ci_covers_true_rate": low <= true_planted / n <= high,
    }


def _covers(claim_text: str, wrong_text: str) -> bool:
    return wrong_text in claim_text or claim_text in wrong_text


def _pooled(
    detected: Counter[str], planted: Counter[str], classes: tuple[str, ...]
) -> float | None:
    total = sum(planted[c] for c in classes)
    return round(sum(detected[c] for c in classes) / total, 4) if total else None


def run(out: Path | None) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "services" / "auditor"))
    from advisor_auditor.audit_items import items_from_conversations
    from advisor_auditor.corpus import load_corpus
    from advisor_auditor.engine import engine_for
    from advisor_shared.dataset import load_dataset

    labels = load_labels(SAMPLE / "labels.jsonl")
    started = time.perf_counter()
    engine = engine_for(load_corpus(SAMPLE / "sources"))
    index_seconds = time.perf_counter() - started
    results: dict[str, Any] = {}
    claims = seconds = 0.0
    for split in ("train", "test"):
        conversations = load_dataset(SAMPLE / f"{split}.jsonl")
        before_claims, before_seconds = engine.claims_checked, engine.seconds
        audits = engine.audit(items_from_conversations(conversations))
        split_claims = engine.claims_checked - before_claims
        split_seconds = engine.seconds - before_seconds
        claims, seconds = claims + split_claims, seconds + split_seconds
        results[split] = score_split(audits, conversations, labels) | {
            "claims": split_claims,
            "claims_per_second": round(split_claims / split_seconds, 1),
        }
    both = results["train"]
    summary = {
        # Headline figures are the train split (the "about 30% of train answers");
        # the test split, untouched while tuning, is reported beside them.
        "recall_by_class": both["recall_by_class"],
        "recall_grouped": both["recall_grouped"],
        "false_positive_rate": both["false_positive_rate"],
        "claims_per_second": round(claims / seconds, 1),
        "estimated_error_rate": both["estimated_error_rate"],
        "wilson_ci": both["wilson_ci"],
        "true_planted_rate": both["true_planted_rate"],
        "splits": results,
        "index_build_seconds": round(index_seconds, 1),
        "verifier": "deterministic (no LLM, no NLI)",
        "hardware": f"{platform.machine()} CPU, torch threads 1",
        # The host is shared; its load during the run says how much CPU the audit really had.
        "host_load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "host_cpus": os.cpu_count(),
        "command": "python benchmarks/audit_sample.py",
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "audit_sample.json"
    )
    args = parser.parse_args()
    summary = run(args.out)
    print(json.dumps({k: v for k, v in summary.items() if k != "splits"}, indent=2))
    for split, figures in summary["splits"].items():
        print(
            split,
            json.dumps(
                {
                    k: figures[k]
                    for k in (
                        "recall_by_class",
                        "false_positive_rate",
                        "estimated_error_rate",
                        "wilson_ci",
                        "true_planted_rate",
                    )
                }
            ),
        )


if __name__ == "__main__":
    main()
