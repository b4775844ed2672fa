"""The three-axis verdict: which axis decides, and when an axis is "not measurable"."""

from __future__ import annotations

import pytest

from advisor_evaluator.reporting.axes import AxisEvidence, read_axis, three_axis_verdict
from advisor_evaluator.scoring.statistics import Estimate, minimum_detectable_effect, paired_summary

pytestmark = pytest.mark.unit


def correctness(value: float, low: float, high: float, sd: float = 0.5, n: int = 40):
    return AxisEvidence(
        "correctness",
        Estimate(value, low, high, n),
        sd,
        "contradicted claims per answer",
        higher_is_better=False,
        relevant=0.25,
    )


def preference(value: float, low: float, high: float, sd: float = 0.2, n: int = 40, **kw):
    return AxisEvidence(
        "preference",
        Estimate(value, low, high, n),
        sd,
        "probability preference",
        higher_is_better=True,
        relevant=0.1,
        **kw,
    )


def fidelity(value: float, low: float, high: float, sd: float = 0.03, n: int = 40):
    return AxisEvidence(
        "fidelity",
        Estimate(value, low, high, n),
        sd,
        "Δ BERTScore F1",
        higher_is_better=True,
        relevant=0.02,
    )


def test_the_mde_is_z_alpha_plus_z_power_times_sd_over_root_n() -> None:
    assert minimum_detectable_effect(1.0, 49) == pytest.approx((1.959964 + 0.841621) / 7, 1e-6)
    assert minimum_detectable_effect(None, 10) is None
    assert minimum_detectable_effect(1.0, 1) is None
    summary = paired_summary([1.0, 0.0, 1.0, 0.0], resamples=200)
    assert summary["sd"] == pytest.approx(0.57735, abs=1e-5)
    assert summary["mde"] == pytest.approx(2.801585 * 0.57735 / 2, abs=1e-5)


def test_correctness_decides_over_fidelity_the_papers_finding() -> None:
    """Closer to the references, yet more contradicted claims: a worse advisor, and the verdict
    says that similarity is not quality."""
    verdict = three_axis_verdict(
        "lora",
        "base",
        [
            correctness(0.6, 0.2, 1.0),
            preference(0.0, -0.05, 0.05, sd=0.05),
            fidelity(0.04, 0.02, 0.06),
        ],
    )
    assert verdict.outcome == "worse" and verdict.deciding_axis == "correctness"
    assert verdict.text.startswith(
        "lora is a worse advisor than base, decided by correctness: more contradicted claims "
        "(contradicted claims per answer +0.60 [+0.20, +1.00], n = 40). preference: "
    )
    assert "similarity is not quality" in verdict.text
    assert verdict.axes["fidelity"].outcome == "better"


def test_fewer_contradictions_is_better() -> None:
    verdict = three_axis_verdict(
        "lora", "base", [correctness(-0.5, -0.8, -0.2), fidelity(0.0, -0.01, 0.01, sd=0.01)]
    )
    assert (verdict.outcome, verdict.deciding_axis) == ("better", "correctness")


def test_the_judge_decides_only_when_correctness_shows_nothing() -> None:
    verdict = three_axis_verdict(
        "lora",
        "base",
        [
            correctness(0.05, -0.1, 0.2, sd=0.3, n=200),
            preference(-0.2, -0.3, -0.1),
            fidelity(0.0, -0.01, 0.01, sd=0.01),
        ],
    )
    assert (verdict.outcome, verdict.deciding_axis) == ("worse", "preference")
    assert verdict.axes["correctness"].outcome == "no difference"


def test_sources_outrank_the_judge_when_they_disagree() -> None:
    verdict = three_axis_verdict(
        "lora", "base", [correctness(0.5, 0.2, 0.8), preference(0.2, 0.1, 0.3)]
    )
    assert (verdict.outcome, verdict.deciding_axis) == ("worse", "correctness")
    assert "The judge and the sources disagree; the sources decide." in verdict.text


def test_not_measurable_at_this_size_names_the_mde() -> None:
    """n = 12 with an SD of 1 claim: only a difference of ~0.81 would show, above 0.25."""
    reading = read_axis(correctness(0.1, -0.4, 0.6, sd=1.0, n=12))
    assert reading.outcome == "not measurable"
    assert reading.mde == pytest.approx(2.801585 / 12**0.5, abs=1e-5)
    assert "not measurable at this size" in reading.text and "0.81 or more" in reading.text


def test_no_difference_when_a_difference_that_matters_would_have_shown() -> None:
    reading = read_axis(correctness(0.02, -0.05, 0.09, sd=0.2, n=100))
    assert reading.outcome == "no difference" and reading.mde == pytest.approx(0.056, abs=1e-3)
    assert "not measurable" not in reading.text


def test_a_biased_judge_is_not_evidence_and_cannot_decide() -> None:
    verdict = three_axis_verdict(
        "lora",
        "base",
        [
            correctness(0.1, -0.4, 0.6, sd=1.0, n=12),
            preference(0.3, 0.2, 0.4, unusable="it follows the order, not the answers"),
            fidelity(0.05, 0.03, 0.07),
        ],
    )
    assert verdict.axes["preference"].outcome == "not evidence"
    assert verdict.deciding_axis == "fidelity"
    assert verdict.outcome == "closer to the references only"
    assert "no evidence of a better advisor" in verdict.text


def test_nothing_shows_and_nothing_was_measured() -> None:
    verdict = three_axis_verdict(
        "lora",
        "base",
        [
            AxisEvidence(
                "correctness",
                None,
                None,
                "contradicted claims per answer",
                False,
                0.25,
                missing="no auditor is configured",
            ),
            preference(0.01, -0.02, 0.04, sd=0.05, n=100),
            fidelity(0.0, -0.01, 0.01, sd=0.01),
        ],
    )
    assert (verdict.outcome, verdict.deciding_axis) == ("no difference shown", None)
    assert "correctness: not measured (no auditor is configured)" in verdict.text
    assert verdict.to_dict()["axes"]["preference"]["outcome"] == "no difference"
