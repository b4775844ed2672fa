"""Admission control: a bounded number of generations in flight; beyond it, 429 at once
(RELIABILITY.md F10) instead of an unbounded queue that times everyone out."""

from __future__ import annotations


class AdmissionGate:
    """Counts in-flight generations; the event loop is single-threaded, so no lock is needed."""

    def __init__(self, limit: int):
        self.limit = limit
        self.in_flight = 0

    def try_enter(self) -> bool:
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)
