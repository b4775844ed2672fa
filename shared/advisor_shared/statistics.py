"""The Wilson score interval for a proportion, the one copy every service uses.

The evaluator reports judge win rates, position consistency and truncation with it; the auditor
reports error rates with it, as the paper reported its training-data audit (docs/paper.md §4.4:
11/40 with Wilson [16%, 43%]). Wilson rather than the normal approximation because it stays
inside [0, 1] and behaves at the small counts these reports have (tens of items).

With no trials the interval is (0.0, 1.0): no observation rules out any proportion, and it is
the interval's own limit as the number of trials goes to 0 (its centre tends to 1/2 and its
half-width to 1/2). The proportion itself is undefined there; callers that show one print
none (the auditor's `rate` is null, the evaluator's `value` is null).
"""

from __future__ import annotations

import math

# The standard normal's 97.5th percentile: a two-sided 95 % interval.
Z_95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """(low, high) of the Wilson score interval for `successes` out of `trials`.

    (0.0, 1.0) when `trials` is 0; a ValueError unless 0 <= successes <= trials."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
