"""Seeded random samples: the same (n, seed) always picks the same items, in input order."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def seeded_sample(items: Sequence[T], n: int | None, seed: int) -> list[T]:
    """`n` items chosen uniformly without replacement with `random.Random(seed)`; all when
    `n` is None or not smaller than the population."""
    if n is None or n >= len(items):
        return list(items)
    if n < 1:
        raise ValueError(f"a sample needs n >= 1, got {n}")
    chosen = set(random.Random(seed).sample(range(len(items)), n))
    return [item for index, item in enumerate(items) if index in chosen]
