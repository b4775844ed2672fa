"""Proportions with honest uncertainty for the audit summaries: the shared Wilson score interval
(`advisor_shared.statistics`; docs/paper.md §4.4 reports the training-data error rate this way)."""

from __future__ import annotations

from advisor_shared.statistics import wilson_interval


def rate_with_interval(successes: int, trials: int) -> dict[str, object]:
    """{'count', 'n', 'rate', 'wilson_ci'} for a summary file; with no items the rate is None
    and the interval [0.0, 1.0]."""
    low, high = wilson_interval(successes, trials)
    return {
        "count": successes,
        "n": trials,
        "rate": round(successes / trials, 4) if trials else None,
        "wilson_ci": [round(low, 4), round(high, 4)],
    }
