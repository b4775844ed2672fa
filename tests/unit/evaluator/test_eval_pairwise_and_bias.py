"""Both-order aggregation and the judge-bias figures on fixed fixtures."""

from __future__ import annotations

import pytest

from advisor_evaluator.judging.bias import SlotJudgement, measure_judge_bias
from advisor_evaluator.judging.pairwise import (
    ORDERS,
    combine_orders,
    deblind,
    mean_score,
    slot_texts,
)
from advisor_evaluator.judging.parsing import UNPARSEABLE, SlotScores, Verdict
from advisor_evaluator.reporting.model_family import family_of, shared_family_warning

pytestmark = pytest.mark.unit


def v(preference: str | None, a: tuple = (None, None), b: tuple = (None, None)) -> Verdict:
    return Verdict(preference, SlotScores(*a), SlotScores(*b))  # type: ignore[arg-type]


def test_slots_are_swapped_between_orders() -> None:
    assert slot_texts("ab", "challenger", "baseline") == ("challenger", "baseline")
    assert slot_texts("ba", "challenger", "baseline") == ("baseline", "challenger")


def test_a_then_b_preferred_is_a_tie_not_a_win() -> None:
    # The judge prefers slot A in both orders: the challenger in "ab", the baseline in "ba".
    pair = combine_orders(deblind(v("A"), "ab"), deblind(v("A"), "ba"))
    assert (pair.result, pair.consistent) == ("tie", False)
    pair = combine_orders(deblind(v("B"), "ab"), deblind(v("B"), "ba"))
    assert (pair.result, pair.consistent) == ("tie", False)


def test_agreement_in_both_orders_counts() -> None:
    assert combine_orders(deblind(v("A"), "ab"), deblind(v("B"), "ba")).result == "win"
    assert combine_orders(deblind(v("B"), "ab"), deblind(v("A"), "ba")).result == "loss"
    tie = combine_orders(deblind(v("tie"), "ab"), deblind(v("tie"), "ba"))
    assert (tie.result, tie.consistent) == ("tie", True)
    half = combine_orders(deblind(v("A"), "ab"), deblind(v("tie"), "ba"))
    assert (half.result, half.consistent) == ("tie", False)


def test_unparseable_in_either_order_is_counted_as_such() -> None:
    pair = combine_orders(deblind(v("A"), "ab"), deblind(UNPARSEABLE, "ba"))
    assert (pair.result, pair.consistent) == ("unparseable", None)


def test_scores_are_deblinded_and_averaged_over_orders() -> None:
    ab = deblind(v("A", a=(3, 2), b=(1, 1)), "ab")  # challenger in A
    ba = deblind(v("B", a=(2, 2), b=(2, 3)), "ba")  # challenger in B
    assert mean_score([ab, ba], "challenger", "domain_accuracy") == 2.5
    assert mean_score([ab, ba], "baseline", "domain_accuracy") == 1.5
    assert mean_score([ab, ba], "challenger", "helpfulness") == 2.5
    assert mean_score([deblind(UNPARSEABLE, "ab")], "challenger", "helpfulness") is None


def _always_first_slot(n: int) -> tuple[list[SlotJudgement], list]:
    judgements, pairs = [], []
    for i in range(n):
        readings = []
        for order in ORDERS:
            judgements.append(SlotJudgement(v("A"), 100 + i, 300))
            readings.append(deblind(v("A"), order))
        pairs.append(combine_orders(*readings))
    return judgements, pairs


def test_a_judge_that_always_picks_the_first_slot_is_zero_percent_consistent() -> None:
    judgements, pairs = _always_first_slot(20)
    bias = measure_judge_bias(judgements, pairs)
    assert bias["position_consistency"]["value"] == 0.0
    assert bias["position_consistency"]["n"] == 20
    assert bias["first_slot_win_rate"]["value"] == 1.0
    assert bias["reliable"] is False
    assert [p.result for p in pairs] == ["tie"] * 20  # no wins, no losses


def test_length_bias_figures_on_a_fixture() -> None:
    # Four decisive verdicts: the longer answer wins three times out of four.
    judgements = [
        SlotJudgement(v("A"), 300, 100),  # longer A wins
        SlotJudgement(v("B"), 100, 300),  # longer B wins
        SlotJudgement(v("B"), 200, 600),  # longer B wins
        SlotJudgement(v("A"), 100, 300),  # shorter A wins
        SlotJudgement(v("tie"), 100, 100),
        SlotJudgement(UNPARSEABLE, 100, 100),
    ]
    pairs = [combine_orders(deblind(v("A"), "ab"), deblind(v("B"), "ba"))] * 3 + [
        combine_orders(deblind(v("A"), "ab"), deblind(v("A"), "ba"))
    ]
    bias = measure_judge_bias(judgements, pairs)
    assert bias["longer_answer_win_rate"]["value"] == 0.75
    assert bias["longer_answer_win_rate"]["n"] == 4
    # x = (A-B)/(A+B) = [.5, -.5, -.5, -.5], y = [1, -1, -1, 1] -> r = 1/sqrt(3)
    assert bias["length_win_correlation"] == pytest.approx(0.57735, abs=1e-5)
    assert bias["first_slot_win_rate"]["value"] == 0.5
    assert bias["unparseable"] == 1 and bias["single_order_ties"] == 1
    assert bias["position_consistency"]["value"] == 0.75
    assert bias["reliable"] is True


def test_family_warning_names_the_shared_family() -> None:
    assert family_of("mistralai/Mistral-7B-Instruct-v0.3") == "mistral"
    assert family_of("smollm2-135m-instruct") == "smollm"
    assert family_of("claude-sonnet-4-6") == "claude"
    assert family_of("advisor-lora") is None
    warning = shared_family_warning(
        "smollm2-135m-instruct",
        {
            "smollm2-135m-instruct": ["smollm2-135m-instruct"],
            "advisor-lora": ["advisor-lora", "smollm2-135m-instruct"],
        },
    )
    assert warning is not None and "'advisor-lora'" in warning and "smollm family" in warning
    assert shared_family_warning("claude-sonnet-4-6", {"m": ["mistralai/Mistral-7B"]}) is None


def test_a_judge_that_is_a_candidate_is_named_as_such() -> None:
    lineage = {"base": ["base"], "advisor-lora": ["advisor-lora", "base"]}
    warning = shared_family_warning("base", lineage, same_endpoint=True)
    assert warning is not None
    assert "is candidate 'advisor-lora', 'base' itself or its base model" in warning
    assert shared_family_warning("base", lineage, same_endpoint=False) is None
