"""The session budget: stop at a step boundary while there is still time to hand over.

Free-tier sessions end at a fixed wall-clock time (Kaggle: 12 h, the paper's phases ran
5 h 47 m and 5 h 26 m, docs/paper.md §2.2). Before each step the trainer asks whether one more
step, the end-of-session eval and the bundle write still fit before the deadline; each of
those is measured during the session (the first bundle-write guess comes from the adapter
size), and a fixed margin is kept on top.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..errors import SessionBudgetError

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")
# First guess of the upload rate for the bundle-write reserve, before one is measured: a
# free-tier notebook pushing to a remote store. Replaced by the measured write time.
ASSUMED_UPLOAD_BYTES_PER_S = 20e6
ASSUMED_FIXED_WRITE_S = 5.0


def parse_duration(text: str) -> float:
    """Seconds in '5h30m', '45m', '90s', '1h15m30s' or a bare number of seconds."""
    cleaned = text.strip().lower().replace(" ", "")
    try:
        return float(cleaned)
    except ValueError:
        pass
    match = _DURATION.match(cleaned)
    if not cleaned or not match or not any(match.groups()):
        raise SessionBudgetError(
            f"session budget {text[:40]!r} is not a duration like '5h30m', '45m' or '90s'"
        )
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_deadline(text: str) -> datetime:
    """An ISO 8601 instant with a time zone (a naive one would depend on the host's zone)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SessionBudgetError(f"deadline {text[:60]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise SessionBudgetError(f"deadline {text[:60]!r} has no time zone; add one, e.g. 'Z'")
    return moment


@dataclass
class SessionBudget:
    """Seconds left in the session on a monotonic clock; `None` deadline = unlimited."""

    deadline: float | None
    margin_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    step_times: deque[float] = field(default_factory=lambda: deque(maxlen=20))
    bundle_write_s: float | None = None
    eval_s: float = 0.0

    @classmethod
    def from_config(
        cls,
        session_budget: str | None,
        deadline: str | None,
        margin_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> SessionBudget:
        """Build the budget; an empty budget or a past deadline is refused here, before any
        model is loaded."""
        now = clock()
        if session_budget is not None:
            seconds = parse_duration(session_budget)
            if seconds <= 0:
                raise SessionBudgetError(f"session budget {session_budget!r} is empty")
            if seconds <= margin_s:
                raise SessionBudgetError(
                    f"session budget {session_budget!r} ({seconds:.0f} s) is not longer than "
                    f"the safety margin ({margin_s:.0f} s): no time to train"
                )
            return cls(now + seconds, margin_s, clock)
        if deadline is not None:
            left = (parse_deadline(deadline) - wall_clock()).total_seconds()
            if left <= margin_s:
                raise SessionBudgetError(
                    f"deadline {deadline} leaves {left:.0f} s, not more than the safety margin "
                    f"({margin_s:.0f} s): no time to train"
                )
            return cls(now + left, margin_s, clock)
        return cls(None, margin_s, clock)

    @property
    def limited(self) -> bool:
        return self.deadline is not None

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.clock()

    def record_step(self, seconds: float) -> None:
        self.step_times.append(seconds)

    def record_bundle_write(self, seconds: float) -> None:
        self.bundle_write_s = max(seconds, self.bundle_write_s or 0.0)

    def record_eval(self, seconds: float) -> None:
        self.eval_s = max(seconds, self.eval_s)

    def step_estimate(self) -> float:
        """The slowest of the recent steps: a step may be longer than the mean (long batch)."""
        return max(self.step_times) if self.step_times else 0.0

    def handover_reserve(self, adapter_bytes: int) -> float:
        """Seconds to keep for the end-of-session eval and the bundle write, plus the margin."""
        write = self.bundle_write_s
        if write is None:
            write = ASSUMED_FIXED_WRITE_S + adapter_bytes / ASSUMED_UPLOAD_BYTES_PER_S
        return self.eval_s + 1.5 * write + self.margin_s

    def room_for_another_step(self, adapter_bytes: int) -> bool:
        """Whether one more step still leaves the handover reserve before the deadline."""
        left = self.seconds_left()
        if left is None:
            return True
        return left - self.step_estimate() >= self.handover_reserve(adapter_bytes)
