"""Prompt hygiene on the shipped sample data, whose hygiene cases are documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor_evaluator.scoring.hygiene import apply_hygiene, char_ngrams, normalise
from advisor_evaluator.scoring.items import EvalItem, item_key
from advisor_shared.dataset import load_dataset

pytestmark = pytest.mark.unit
SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"


def _items(texts: list[str]) -> list[EvalItem]:
    return [EvalItem(item_key(i), f"p{i}", t, None) for i, t in enumerate(texts)]


def test_exact_and_near_duplicates_are_removed_and_reported() -> None:
    question = "Hello, which documents do I need to apply for a student visa to Norvania?"
    items = _items(
        [
            question,
            "  hello, which documents do I need to apply for a student  visa to Norvania?",
            question.replace(" a student", " the student"),  # one word changed
            "How much is tuition at the University of Eastmarch for engineering students?",
        ]
    )
    result = apply_hygiene(items, None, 0.9, False)
    assert [i.id for i in result.kept] == ["p0", "p3"]
    assert result.exact_duplicates == [{"id": "p1", "duplicate_of": "p0"}]
    assert [(d["id"], d["duplicate_of"]) for d in result.near_duplicates] == [("p2", "p0")]
    assert 0.9 <= result.near_duplicates[0]["similarity"] < 1.0
    assert result.training_overlap == {"measured": False, "reason": "no training dataset was given"}


def test_sample_test_set_hygiene_cases_are_all_found() -> None:
    test = load_dataset(SAMPLE / "test.jsonl")
    train = load_dataset(SAMPLE / "train.jsonl")
    items = [
        EvalItem(item_key(i), c.id, c.first_user_turn, c.first_assistant_turn)
        for i, c in enumerate(test)
    ]
    result = apply_hygiene(items, [(c.id, c.first_user_turn) for c in train], 0.9, True)
    exact = {(d["id"], d["duplicate_of"]) for d in result.exact_duplicates}
    near = {(d["id"], d["duplicate_of"]) for d in result.near_duplicates}
    assert exact == {("test-0027", "test-0002"), ("test-0022", "test-0011")}
    assert near == {("test-0038", "test-0015"), ("test-0041", "test-0034")}
    overlap = result.training_overlap
    assert {(d["id"], d["train_id"]) for d in overlap["exact"]} == {
        ("test-0047", "train-0152"),
        ("test-0045", "train-0137"),
    }
    # test-0007 is train-0043 with a greeting prepended: the same question, flagged as near.
    assert [(d["id"], d["train_id"]) for d in overlap["near"]] == [("test-0007", "train-0043")]
    assert result.excluded_for_overlap == ["test-0007", "test-0045", "test-0047"]
    assert len(result.kept) == 50 - 4 - 3


def test_ngrams_ignore_case_and_spacing() -> None:
    assert normalise("  Hello\n  World ") == "hello world"
    assert char_ngrams("Visa  FEES") == char_ngrams("visa fees")
