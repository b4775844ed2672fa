"""Admission control: a bounded number of generations in flight, in all and per API key;
beyond either, 429 at once (docs/reliability.md, F10) instead of an unbounded queue that times
everyone out, or one key holding every slot."""

from __future__ import annotations

from collections import Counter


class AdmissionGate:
    """Counts in-flight generations; the event loop is single-threaded, so no lock is needed."""

    def __init__(self, limit: int, per_key_limit: int | None = None):
        self.limit = limit
        self.per_key_limit = per_key_limit or limit
        self.in_flight = 0
        self._by_key: Counter[str] = Counter()

    def try_enter(self, key: str | None = None, weight: int = 1) -> bool:
        """Admit `weight` generations (a request's `n` choices) at once, or none."""
        if self.in_flight + weight > self.limit:
            return False
        if key is not None and self._by_key[key] + weight > self.per_key_limit:
            return False
        self.in_flight += weight
        if key is not None:
            self._by_key[key] += weight
        return True

    def key_is_full(self, key: str | None, weight: int = 1) -> bool:
        return key is not None and self._by_key[key] + weight > self.per_key_limit

    def leave(self, key: str | None = None, weight: int = 1) -> None:
        self.in_flight = max(0, self.in_flight - weight)
        if key is not None and self._by_key[key] > 0:
            self._by_key[key] = max(0, self._by_key[key] - weight)
            if not self._by_key[key]:
                del self._by_key[key]
