"""Session budget: durations, empty budgets, and the stop decision between steps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from advisor_trainer.errors import SessionBudgetError
from advisor_trainer.training.budget import SessionBudget, parse_deadline, parse_duration

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5h30m", 19800),
        ("45m", 2700),
        ("90s", 90),
        ("1h15m30s", 4530),
        ("120", 120),
        ("1.5h", 5400),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "h", "m30"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(SessionBudgetError, match="is not a duration"):
        parse_duration(text)


def test_empty_budget_and_past_deadline_are_refused() -> None:
    with pytest.raises(SessionBudgetError, match="session budget '0s' is empty"):
        SessionBudget.from_config("0s", None, 30)
    with pytest.raises(SessionBudgetError, match="not longer than the safety margin"):
        SessionBudget.from_config("20s", None, 30)
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with pytest.raises(SessionBudgetError, match="leaves -3600 s"):
        SessionBudget.from_config(None, "2026-01-01T11:00:00Z", 30, wall_clock=lambda: now)
    with pytest.raises(SessionBudgetError, match="has no time zone"):
        parse_deadline("2026-01-01T11:00:00")


def test_deadline_sets_the_seconds_left() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    budget = SessionBudget.from_config(
        None, "2026-01-01T13:00:00+00:00", 30, clock=lambda: 100.0, wall_clock=lambda: now
    )
    assert budget.seconds_left() == 3600


def test_stops_while_the_step_and_the_handover_still_fit() -> None:
    clock = [0.0]
    budget = SessionBudget.from_config("100s", None, 5, clock=lambda: clock[0])
    budget.record_bundle_write(4.0)  # reserve = 0 eval + 1.5 x 4 + 5 margin = 11 s
    budget.record_eval(0.0)
    steps = 0
    while budget.room_for_another_step(adapter_bytes=0):
        clock[0] += 8.0  # every step takes 8 s
        budget.record_step(8.0)
        steps += 1
    # after 10 steps (80 s): 20 s left, 20 - 8 = 12 >= 11 -> one more; after 11: 12 - 8 < 11
    assert steps == 11
    assert budget.seconds_left() == pytest.approx(12.0)
    assert budget.seconds_left() >= budget.handover_reserve(0)


def test_first_bundle_reserve_comes_from_the_adapter_size() -> None:
    budget = SessionBudget(deadline=1000.0, margin_s=30.0, clock=lambda: 0.0)
    # 167.8 MB adapter (7B, r=16, fp32) at the assumed 20 MB/s + 5 s, times 1.5, + 30 s
    assert budget.handover_reserve(167_772_160) == pytest.approx(1.5 * (5 + 8.388608) + 30)
