"""The report's headline: flat figures taken from the sections below it."""

from __future__ import annotations

import pytest

from advisor_evaluator.reporting.builder import headline

pytestmark = pytest.mark.unit


def candidate(
    name: str, generations: int, truncated: float, contradicted: dict | None = None
) -> dict:
    return {
        "name": name,
        "generations": generations,
        "truncation_rate": {"value": truncated},
        "correctness": {"contradicted_per_answer": contradicted} if contradicted else None,
    }


def comparison(name: str, delta: dict | None, contradicted: dict | None = None) -> dict:
    return {
        "challenger": name,
        "bertscore_f1_delta": delta,
        "correctness": {"contradicted_delta": contradicted} if contradicted else None,
        "verdict": f"{name}: verdict text",
        "verdict_axes": {"deciding_axis": "correctness" if contradicted else None},
    }


def interval(low: float, value: float, high: float, n: int = 20) -> dict:
    return {"value": value, "low": low, "high": high, "n": n}


def test_the_headline_flattens_intervals_and_rates() -> None:
    bias = {"judgements": 40, "unparseable": 1, "position_consistency": {"value": 0.6}}
    got = headline(
        [
            candidate("base", 20, 0.1, interval(0.5, 1.0, 1.5)),
            candidate("tuned", 20, 0.25, interval(1.0, 1.5, 2.0)),
            candidate("idle", 0, 0.0),
        ],
        [
            comparison("tuned", interval(-0.01, 0.03, 0.07), interval(0.1, 0.5, 0.9)),
            comparison("gated", {"value": None, "low": None, "high": None, "n": 0}),
        ],
        bias,
        [
            {
                "a": "tuned",
                "b": "gated",
                "bertscore_f1_delta": interval(0.0, 0.01, 0.02),
                "correctness": {"contradicted_delta": interval(0.2, 0.4, 0.6)},
            }
        ],
    )
    assert got == {
        "judge_unparseable_rate": 0.025,
        "judge_position_consistency": 0.6,
        "fidelity_delta": {"tuned": [-0.01, 0.03, 0.07]},  # an unmeasured delta is left out
        "truncated_rate": {"base": 0.1, "tuned": 0.25},
        "contradicted_per_answer": {"base": [0.5, 1.0, 1.5], "tuned": [1.0, 1.5, 2.0]},
        "contradicted_delta": {"tuned": [0.1, 0.5, 0.9]},  # no audit, no entry
        "contrasts": {
            "tuned − gated": {
                "fidelity_delta": [0.0, 0.01, 0.02],
                "contradicted_delta": [0.2, 0.4, 0.6],
            }
        },
        "verdict": {"tuned": "tuned: verdict text", "gated": "gated: verdict text"},
        "deciding_axis": {"tuned": "correctness", "gated": None},
    }


def test_without_a_judge_its_figures_are_null() -> None:
    got = headline([candidate("base", 2, 0.0)], [], None)
    assert got["judge_unparseable_rate"] is None and got["judge_position_consistency"] is None
    assert got["contradicted_per_answer"] == {} and got["contrasts"] == {}
