"""The statistics of the report: paired bootstrap CIs, Wilson intervals, correlations.

The bootstrap follows the paper's analysis (1,000 resamples of per-item deltas, percentile
interval 2.5/97.5, numpy seed 42) so its numbers are comparable; Wilson intervals are used for
proportions because they stay inside [0, 1] and behave at small n (the paper's n is 50). The
interval is the one the auditor uses too (`advisor_shared.statistics`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from advisor_shared.statistics import Z_95
from advisor_shared.statistics import wilson_interval as wilson_bounds

# z of 80 % power: the conventional chance of detecting an effect of the reported size.
Z_POWER_80 = 0.8416212335729143


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% interval and the number of observations behind it."""

    value: float
    low: float
    high: float
    n: int

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-ready; an undefined estimate (n = 0) has null bounds, never NaN."""
        return {
            k: (None if math.isnan(v) else round(v, 6)) if isinstance(v, float) else v
            for k, v in asdict(self).items()
        }


def bootstrap_mean_ci(
    values: Sequence[float], *, resamples: int = 1000, seed: int = 42, level: float = 0.95
) -> Estimate:
    """Mean of `values` with a percentile bootstrap interval (resampling items with replacement).

    For paired data pass the per-item deltas: resampling items keeps each pair together."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, data.size, size=(resamples, data.size))
    means = data[draws].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return Estimate(float(data.mean()), float(low), float(high), int(data.size))


def paired_deltas(challenger: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """Per-item challenger − baseline; both sequences are aligned item by item."""
    if len(challenger) != len(baseline):
        raise ValueError("paired values must be aligned item by item")
    return [c - b for c, b in zip(challenger, baseline, strict=True)]


def sample_sd(values: Sequence[float]) -> float | None:
    """Standard deviation with Bessel's correction; None below two values."""
    data = np.asarray(values, dtype=float)
    return float(data.std(ddof=1)) if data.size >= 2 else None


def minimum_detectable_effect(
    sd: float | None, n: int, *, z_alpha: float = Z_95, z_power: float = Z_POWER_80
) -> float | None:
    """The smallest true mean difference a paired comparison of `n` items detects with 80 %
    power at the two-sided 5 % level: (z_0.975 + z_0.8) · SD / √n, SD being that of the
    per-item differences (the normal approximation a power calculation for a paired t-test
    starts from). None when it cannot be computed (fewer than two items)."""
    if sd is None or n < 2 or math.isnan(sd):
        return None
    return (z_alpha + z_power) * sd / math.sqrt(n)


def paired_summary(
    deltas: Sequence[float], *, resamples: int = 1000, seed: int = 42
) -> dict[str, float | int | None]:
    """Per-item differences as the report keeps them: the mean with its paired bootstrap CI,
    the SD of the differences and the minimum detectable effect at this n."""
    sd = sample_sd(deltas)
    mde = minimum_detectable_effect(sd, len(deltas))
    return bootstrap_mean_ci(deltas, resamples=resamples, seed=seed).to_dict() | {
        "sd": None if sd is None else round(sd, 6),
        "mde": None if mde is None else round(mde, 6),
    }


def wilson_interval(successes: int, n: int, z: float = Z_95) -> Estimate:
    """Proportion successes/n with the shared Wilson score interval, as an `Estimate`. With n = 0
    the proportion is undefined (NaN, null in JSON) and the interval is [0, 1]."""
    low, high = wilson_bounds(successes, n, z)
    return Estimate(successes / n if n else math.nan, low, high, n)


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson correlation, or None when either side is constant or there are < 3 points."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.size != b.size:
        raise ValueError("x and y must have the same length")
    if a.size < 3 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])
