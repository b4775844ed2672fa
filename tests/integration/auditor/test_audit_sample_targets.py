"""The auditor on data/sample against the planted-error labels (issue 5 targets).

The labels are read here, after the audit; the auditor itself never reads them. Targets:
recall >= 0.8 on planted number/date/entity errors, >= 0.6 on false premises and fabricated
programs, false positives <= 5 % of clean answers, and the Wilson CI of the estimated error
rate covers the true planted rate. Computed on both splits (the method was tuned on train).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "data" / "sample"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scored() -> dict:
    if not (SAMPLE / "labels.jsonl").is_file():
        pytest.skip("data/sample/labels.jsonl is not there")
    sys.path.insert(0, str(REPO / "benchmarks"))
    from audit_sample import load_labels, score_split

    from advisor_auditor.audit_items import items_from_conversations
    from advisor_auditor.corpus import load_corpus
    from advisor_auditor.engine import engine_for
    from advisor_shared.dataset import load_dataset

    engine = engine_for(load_corpus(SAMPLE / "sources"))
    labels = load_labels(SAMPLE / "labels.jsonl")
    results = {}
    for split in ("train", "test"):
        conversations = load_dataset(SAMPLE / f"{split}.jsonl")
        audits = engine.audit(items_from_conversations(conversations))
        results[split] = score_split(audits, conversations, labels)
    return results


@pytest.mark.parametrize("split", ["train", "test"])
def test_recall_false_positives_and_estimate(scored: dict, split: str) -> None:
    figures = scored[split]
    assert figures["recall_grouped"]["number_date_entity"] >= 0.8, figures
    assert figures["recall_grouped"]["false_premise_and_fabricated"] >= 0.6, figures
    assert figures["false_positive_rate"] <= 0.05, figures
    assert figures["ci_covers_true_rate"], figures


def test_every_class_is_caught_on_train(scored: dict) -> None:
    recall = scored["train"]["recall_by_class"]
    assert set(recall) == {"number", "date", "entity", "fabricated_program", "false_premise"}
    assert min(recall.values()) >= 0.8, recall
