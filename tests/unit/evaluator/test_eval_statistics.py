"""The report's statistics, pinned on fixed fixtures."""

from __future__ import annotations

import math

import pytest

from advisor_evaluator.scoring.statistics import (
    bootstrap_mean_ci,
    paired_deltas,
    pearson,
    wilson_interval,
)

pytestmark = pytest.mark.unit

DELTAS = [0.1, 0.2, -0.05, 0.3, 0.0, 0.15, 0.05, 0.12, -0.02, 0.2]


def test_paired_bootstrap_ci_is_pinned_and_seeded() -> None:
    estimate = bootstrap_mean_ci(DELTAS, resamples=1000, seed=42)
    assert estimate.n == 10
    assert estimate.value == pytest.approx(0.105)
    assert (estimate.low, estimate.high) == pytest.approx((0.043, 0.170), abs=1e-9)
    assert bootstrap_mean_ci(DELTAS, resamples=1000, seed=42) == estimate
    assert bootstrap_mean_ci(DELTAS, resamples=1000, seed=7) != estimate
    assert estimate.excludes_zero()


def test_bootstrap_of_a_null_effect_covers_zero() -> None:
    estimate = bootstrap_mean_ci([0.1, -0.1] * 25)
    assert estimate.value == pytest.approx(0.0)
    assert estimate.low < 0 < estimate.high and not estimate.excludes_zero()


def test_bootstrap_of_nothing_is_nan_with_n_zero() -> None:
    estimate = bootstrap_mean_ci([])
    assert estimate.n == 0 and math.isnan(estimate.value)


def test_paired_deltas_are_aligned() -> None:
    assert paired_deltas([0.5, 0.7], [0.4, 0.9]) == pytest.approx([0.1, -0.2])
    with pytest.raises(ValueError):
        paired_deltas([1.0], [1.0, 2.0])


def test_wilson_matches_the_papers_training_data_audit() -> None:
    # docs/paper.md §4.4: hard 11/40 = 27.5% (Wilson [16%, 43%]);
    # inclusive 16/40 = 40% ([26%, 55%]).
    hard, inclusive = wilson_interval(11, 40), wilson_interval(16, 40)
    assert (round(hard.low, 2), round(hard.high, 2)) == (0.16, 0.43)
    assert (round(inclusive.low, 2), round(inclusive.high, 2)) == (0.26, 0.55)
    none = wilson_interval(0, 10)
    assert none.value == 0.0 and none.low == 0.0 and none.high == pytest.approx(0.2775, abs=1e-4)


def test_wilson_without_observations_has_no_value_and_the_whole_interval() -> None:
    # The shared interval's n = 0 rule (advisor_shared.statistics), the auditor's too.
    empty = wilson_interval(0, 0)
    assert empty.n == 0 and math.isnan(empty.value) and (empty.low, empty.high) == (0.0, 1.0)
    assert empty.to_dict() == {"value": None, "low": 0.0, "high": 1.0, "n": 0}
    assert not empty.excludes_zero()


def test_pearson_handles_constant_and_short_input() -> None:
    assert pearson([1, 2, 3, 4], [1, 3, 2, 5]) == pytest.approx(0.8315218406)
    assert pearson([1, 1, 1], [1, 2, 3]) is None
    assert pearson([1, 2], [2, 1]) is None
