"""The judge's own measured bias: position consistency, first-slot preference, length preference.

These figures decide how far the judge's preferences can be trusted: a judge that always picks
slot A is 0% position-consistent (every pair becomes a tie), and a strong correlation between
"won" and "was longer" means verbosity, not quality, is being rewarded (the rubric forbids it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .pairwise import PairVerdict
from .statistics import pearson, wilson_interval
from .verdict_parsing import Verdict

# Below this position-consistency the judge's preferences are reported as unreliable.
MIN_POSITION_CONSISTENCY = 0.5


@dataclass(frozen=True)
class SlotJudgement:
    """One single-order judgement with the lengths (characters) of the two slot texts."""

    verdict: Verdict
    length_a: int
    length_b: int


def relative_length_difference(length_a: int, length_b: int) -> float:
    """(A − B) / (A + B): −1 … 1, 0 when both are equally long (or both empty)."""
    total = length_a + length_b
    return (length_a - length_b) / total if total else 0.0


def measure_judge_bias(judgements: list[SlotJudgement], pairs: list[PairVerdict]) -> dict[str, Any]:
    """Bias figures over all single-order `judgements` and all both-order `pairs`."""
    parseable = [j for j in judgements if j.verdict.parseable]
    decisive = [j for j in parseable if j.verdict.preference in ("A", "B")]
    first_slot_wins = sum(j.verdict.preference == "A" for j in decisive)
    compared = [p for p in pairs if p.consistent is not None]
    consistent = sum(bool(p.consistent) for p in compared)

    unequal = [j for j in decisive if j.length_a != j.length_b]
    longer_won = sum((j.verdict.preference == "A") == (j.length_a > j.length_b) for j in unequal)
    correlation = pearson(
        [relative_length_difference(j.length_a, j.length_b) for j in decisive],
        [1.0 if j.verdict.preference == "A" else -1.0 for j in decisive],
    )
    position_consistency = wilson_interval(consistent, len(compared))
    return {
        "judgements": len(judgements),
        "unparseable": len(judgements) - len(parseable),
        "unparseable_rate": wilson_interval(
            len(judgements) - len(parseable), len(judgements)
        ).to_dict(),
        "single_order_ties": sum(j.verdict.preference == "tie" for j in parseable),
        "pairs_compared_in_both_orders": len(compared),
        "position_consistency": position_consistency.to_dict(),
        "first_slot_win_rate": wilson_interval(first_slot_wins, len(decisive)).to_dict(),
        "longer_answer_win_rate": wilson_interval(longer_won, len(unequal)).to_dict(),
        "length_win_correlation": None if correlation is None else round(correlation, 6),
        "reliable": bool(compared) and position_consistency.value >= MIN_POSITION_CONSISTENCY,
    }
