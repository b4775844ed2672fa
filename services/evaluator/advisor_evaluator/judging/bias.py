"""The judge's own measured bias: position consistency, first-slot preference, length preference.

These figures decide how far the judge's preferences can be trusted: a judge that always picks
slot A is 0% position-consistent (every pair becomes a tie), and a strong correlation between
"won" and "was longer" means verbosity, not quality, is being rewarded (the rubric forbids it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..scoring.statistics import bootstrap_mean_ci, pearson, wilson_interval
from .pairwise import PairVerdict
from .parsing import Verdict

# Below this position-consistency the judge's preferences are reported as unreliable.
MIN_POSITION_CONSISTENCY = 0.5


@dataclass(frozen=True)
class SlotJudgement:
    """One single-order judgement with the lengths (characters) of the two slot texts."""

    verdict: Verdict
    length_a: int
    length_b: int
    method: str = "text"
    # Read from token probabilities (method "logprobs"): the verdict's normalised margin, and
    # (P(A) − P(B)) / mass on the options, the lean towards slot A.
    margin: float | None = None
    first_slot_lean: float | None = None
    option_mass: float | None = None


def relative_length_difference(length_a: int, length_b: int) -> float:
    """(A − B) / (A + B): −1 … 1, 0 when both are equally long (or both empty)."""
    total = length_a + length_b
    return (length_a - length_b) / total if total else 0.0


MARGIN_BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def margin_distribution(margins: list[float]) -> dict[str, Any]:
    """How firmly the verdicts were given: quantiles and a 0.1-wide histogram of the margins."""
    if not margins:
        return {"n": 0, "mean": None, "quantiles": None, "histogram": None}
    values = np.asarray(margins, dtype=float)
    counts, _ = np.histogram(values, bins=MARGIN_BINS)
    return {
        "n": len(margins),
        "mean": round(float(values.mean()), 6),
        "quantiles": {
            f"p{round(q * 100)}": round(float(np.quantile(values, q)), 6) for q in QUANTILES
        },
        "histogram": {"edges": list(MARGIN_BINS), "counts": counts.tolist()},
    }


def probability_figures(judgements: list[SlotJudgement]) -> dict[str, Any]:
    """Figures only a judge read from its token probabilities has: the margin distribution, the
    mean lean towards slot A with its bootstrap CI (0 for an unbiased judge: every pair is seen
    in both orders, so the answers' quality cancels), and how much of its probability went to
    an answer at all."""
    read = [j for j in judgements if j.method == "logprobs" and j.verdict.parseable]
    leans = [j.first_slot_lean for j in read if j.first_slot_lean is not None]
    masses = [j.option_mass for j in read if j.option_mass is not None]
    return {
        "margin": margin_distribution([j.margin for j in read if j.margin is not None]),
        "first_slot_lean": bootstrap_mean_ci(leans).to_dict() if leans else None,
        "option_mass_median": round(float(np.median(masses)), 6) if masses else None,
    }


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
        "methods": dict(Counter(j.method for j in judgements)),
        **probability_figures(judgements),
    }
