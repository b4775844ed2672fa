"""How long one training step takes on this machine, read from a trainer session's events:
the first fine-tune's steps size the second one's wall-clock budget, so its handoff happens
mid-run on a fast laptop and a slow one alike.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path


def step_times(events_path: Path) -> list[float]:
    """Step times a trainer session recorded in its events file, in order."""
    if not events_path.is_file():
        return []
    return [
        event["step_time_s"]
        for event in map(json.loads, events_path.read_text().splitlines())
        if event.get("event") == "step" and event.get("step_time_s")
    ]


def measured_step_seconds(events_path: Path) -> float | None:
    """The median step time of a finished session, if it recorded any."""
    times = step_times(events_path)
    return statistics.median(times) if times else None
