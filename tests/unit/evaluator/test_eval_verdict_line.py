"""The plain-words verdict line, case by case."""

from __future__ import annotations

import pytest

from advisor_evaluator.statistics import Estimate
from advisor_evaluator.verdict_line import direction, verdict_line

pytestmark = pytest.mark.unit

# The paper's headline: BERTScore +0.063 [+0.048, +0.077]; judge 18% vs 46% (net -28%).
FIDELITY_UP = Estimate(0.0631, 0.0473, 0.0785, 50)
QUALITY_DOWN = Estimate(-0.28, -0.46, -0.10, 50)


def test_the_papers_result_reads_fidelity_up_quality_down() -> None:
    line = verdict_line("lora", "base", FIDELITY_UP, QUALITY_DOWN, judge_reliable=True,
                        confident_errors=(4, 0))  # fmt: skip
    assert line.startswith("fidelity up, quality down: ")
    assert "BERTScore F1 +0.063 [+0.047, +0.079]" in line
    assert "the judge prefers base (net preference -28% [-46%, -10%])" in line
    assert "confident errors 4 vs 0" in line
    assert line.endswith("similarity to the references is not answer quality.")


def test_directions_need_the_ci_to_exclude_zero() -> None:
    assert direction(Estimate(0.01, -0.01, 0.03, 50)) == "unchanged"
    assert direction(Estimate(-0.02, -0.03, -0.01, 50)) == "down"
    assert direction(None) == "unknown"
    line = verdict_line("lora", "base", FIDELITY_UP, Estimate(0.02, -0.1, 0.14, 50))
    assert line.startswith("fidelity up, quality unchanged: ")
    assert "prefers neither beyond its CI" in line


def test_agreeing_signals() -> None:
    line = verdict_line("lora", "base", FIDELITY_UP, Estimate(0.3, 0.1, 0.5, 50))
    assert line.startswith("fidelity up, quality up: ") and line.endswith("Both signals agree.")


def test_an_unreliable_judge_gives_no_quality_direction() -> None:
    line = verdict_line("lora", "base", FIDELITY_UP, QUALITY_DOWN, judge_reliable=False,
                        position_consistency=0.03)  # fmt: skip
    assert line.startswith("fidelity up, quality unknown: ")
    assert "position-consistent on only 3% of pairs" in line
    assert "disagree" not in line


def test_a_judge_with_no_readable_pair_says_nothing_about_quality() -> None:
    line = verdict_line("lora", "base", FIDELITY_UP, None, judge_reliable=False)
    assert line.startswith("fidelity up, quality unknown: ")
    assert "no pair got a readable verdict in both orders" in line
