"""Proportions with honest uncertainty: the Wilson score interval (docs/paper.md §4.4 reports the
training-data error rate this way)."""

from __future__ import annotations

import math

Z_95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for `successes` out of `trials`; (0, 1) when there are none."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def rate_with_interval(successes: int, trials: int) -> dict[str, object]:
    """{'count', 'n', 'rate', 'wilson_ci'} for a summary file."""
    low, high = wilson_interval(successes, trials)
    return {
        "count": successes,
        "n": trials,
        "rate": round(successes / trials, 4) if trials else None,
        "wilson_ci": [round(low, 4), round(high, 4)],
    }
