"""The shared Wilson interval (advisor_shared.statistics), pinned on the paper's counts."""

from __future__ import annotations

import pytest

from advisor_shared.statistics import wilson_interval

pytestmark = pytest.mark.unit


def test_wilson_matches_the_papers_training_data_audit() -> None:
    # docs/paper.md §4.4: hard 11/40 (Wilson [16%, 43%]); inclusive 16/40 ([26%, 55%]).
    assert wilson_interval(11, 40) == pytest.approx((0.1611, 0.4283), abs=1e-4)
    assert wilson_interval(16, 40) == pytest.approx((0.2635, 0.5540), abs=1e-4)
    assert wilson_interval(48, 160) == pytest.approx((0.2344, 0.3750), abs=1e-4)


def test_wilson_stays_inside_zero_and_one() -> None:
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    low, high = wilson_interval(3, 10)
    assert (low, high) == pytest.approx(tuple(1 - b for b in reversed(wilson_interval(7, 10))))


def test_wilson_with_no_trials_is_the_whole_interval() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    # ... which is where the interval goes as trials shrink: one trial already spans most of it.
    low, high = wilson_interval(0, 1)
    assert low == 0.0 and high > 0.79


@pytest.mark.parametrize(("successes", "trials"), [(5, 3), (-1, 3), (0, -1)])
def test_wilson_refuses_impossible_counts(successes: int, trials: int) -> None:
    with pytest.raises(ValueError, match="0 <= successes <= trials"):
        wilson_interval(successes, trials)
