"""Both-order pairwise judging: slot assignment, de-blinding, and combining the two orders.

Every pair (challenger vs baseline, one item) is judged twice: order "ab" puts the challenger in
slot A, order "ba" puts it in slot B. A pair counts as a win or a loss only when both orders agree;
an order-inconsistent pair is a tie (docs/design.md, lesson 7), and a pair with an unparseable
verdict in either order is counted as unparseable, not as a tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .parsing import SlotScores, Verdict

Order = Literal["ab", "ba"]
ORDERS: tuple[Order, Order] = ("ab", "ba")
Outcome = Literal["win", "loss", "tie"]
PairResult = Literal["win", "loss", "tie", "unparseable"]


def slot_texts(order: Order, challenger: str, baseline: str) -> tuple[str, str]:
    """(response A, response B) for this order."""
    return (challenger, baseline) if order == "ab" else (baseline, challenger)


@dataclass(frozen=True)
class OrderReading:
    """One order's verdict, seen from the challenger's side."""

    outcome: Outcome | None  # None: unparseable
    challenger: SlotScores
    baseline: SlotScores


def deblind(verdict: Verdict, order: Order) -> OrderReading:
    """Map slot-level verdict onto challenger/baseline."""
    challenger_slot = "A" if order == "ab" else "B"
    challenger, baseline = (verdict.a, verdict.b) if order == "ab" else (verdict.b, verdict.a)
    if verdict.preference is None:
        return OrderReading(None, challenger, baseline)
    if verdict.preference == "tie":
        return OrderReading("tie", challenger, baseline)
    outcome: Outcome = "win" if verdict.preference == challenger_slot else "loss"
    return OrderReading(outcome, challenger, baseline)


@dataclass(frozen=True)
class PairVerdict:
    """The item-level result of one challenger-vs-baseline pair judged in both orders."""

    result: PairResult
    consistent: bool | None  # None when either order was unparseable


def combine_orders(first: OrderReading, second: OrderReading) -> PairVerdict:
    """A>B then B>A (the same slot preferred twice) is a tie; agreement is a win/loss/tie."""
    if first.outcome is None or second.outcome is None:
        return PairVerdict("unparseable", None)
    if first.outcome == second.outcome:
        return PairVerdict(first.outcome, True)
    return PairVerdict("tie", False)


def mean_score(readings: list[OrderReading], side: str, field: str) -> float | None:
    """Mean of a rubric score over the orders in which the judge gave it."""
    values = [getattr(getattr(r, side), field) for r in readings]
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
