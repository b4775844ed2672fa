"""The report's headline: flat figures taken from the sections below it."""

from __future__ import annotations

import pytest

from advisor_evaluator.report_builder import headline

pytestmark = pytest.mark.unit


def candidate(name: str, generations: int, truncated: float) -> dict:
    return {"name": name, "generations": generations, "truncation_rate": {"value": truncated}}


def comparison(name: str, delta: dict | None) -> dict:
    return {"challenger": name, "bertscore_f1_delta": delta}


def test_the_headline_flattens_intervals_and_rates() -> None:
    bias = {"judgements": 40, "unparseable": 1, "position_consistency": {"value": 0.6}}
    got = headline(
        [candidate("base", 20, 0.1), candidate("tuned", 20, 0.25), candidate("idle", 0, 0.0)],
        [comparison("tuned", {"value": 0.03, "low": -0.01, "high": 0.07, "n": 20}),
         comparison("gated", {"value": None, "low": None, "high": None, "n": 0})],
        bias,
    )  # fmt: skip
    assert got == {
        "judge_unparseable_rate": 0.025,
        "judge_position_consistency": 0.6,
        "fidelity_delta": {"tuned": [-0.01, 0.03, 0.07]},  # an unmeasured delta is left out
        "truncated_rate": {"base": 0.1, "tuned": 0.25},
    }


def test_without_a_judge_its_figures_are_null() -> None:
    got = headline([candidate("base", 2, 0.0)], [], None)
    assert got["judge_unparseable_rate"] is None and got["judge_position_consistency"] is None
