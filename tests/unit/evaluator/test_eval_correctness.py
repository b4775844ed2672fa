"""Source-verified correctness per answer: a candidate's means and two candidates compared
answer by answer."""

from __future__ import annotations

import pytest

from advisor_evaluator.scoring.correctness import (
    correctness_summary,
    counts_by_item,
    paired_correctness,
)

pytestmark = pytest.mark.unit
BOOTSTRAP = {"resamples": 500, "seed": 42}


def counts(contradicted: int, supported: int = 2, confident: int | None = None) -> dict:
    return {
        "claims": contradicted + supported + 1,
        "supported": supported,
        "contradicted": contradicted,
        "unverifiable": 1,
        "confident_errors": contradicted if confident is None else confident,
    }


def test_a_candidates_correctness_is_a_mean_per_answer_and_a_share() -> None:
    answers = {"i0": counts(2), "i1": counts(0), "i2": counts(1, confident=0), "i3": counts(0)}
    summary = correctness_summary(answers, ["i0", "i1", "i2", "i3", "i9"], BOOTSTRAP)
    assert summary is not None and summary["answers"] == 4
    assert summary["contradicted_per_answer"]["value"] == pytest.approx(0.75)
    assert summary["supported_per_answer"]["value"] == pytest.approx(2.0)
    # i2's contradiction is hedged: only i0 has a confident error
    assert summary["answers_with_confident_error"] == 1
    assert summary["confident_error_share"]["value"] == pytest.approx(0.25)


def test_two_candidates_are_compared_on_the_prompts_both_answered() -> None:
    ungated = {f"i{n}": counts(1 + (n % 2)) for n in range(20)}
    gated = {f"i{n}": counts(n % 2) for n in range(20)} | {"extra": counts(9)}
    result = paired_correctness(ungated, gated, sorted(ungated) + ["extra"], BOOTSTRAP)
    assert result is not None
    delta = result["contradicted_delta"]
    # every answer has exactly one contradiction more: the paired difference has no spread
    assert (delta["value"], delta["low"], delta["high"], delta["n"]) == (1.0, 1.0, 1.0, 20)
    assert delta["sd"] == 0.0 and delta["mde"] == 0.0
    assert result["confident_error_delta"]["value"] == pytest.approx(0.5)


def test_without_per_answer_counts_there_is_nothing_to_compare() -> None:
    assert counts_by_item(None) is None
    assert counts_by_item({"confident_errors": 3, "answers": None}) is None
    assert correctness_summary(None, ["i0"], BOOTSTRAP) is None
    assert paired_correctness({"i0": counts(1)}, None, ["i0"], BOOTSTRAP) is None
    assert paired_correctness({"i0": counts(1)}, {"i1": counts(1)}, ["i0", "i1"], BOOTSTRAP) is None
