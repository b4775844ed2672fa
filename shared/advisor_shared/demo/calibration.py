"""How long one training step takes on this machine, measured before the first session so its
wall-clock budget ends it mid-run (the handoff must happen on a fast laptop and a slow one).

The measurement is the trainer's own: a three-step run of the same job config into a
throwaway store, whose median step time after the first (warm-up) step is taken.
"""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

from .processes import advisor_command, run_logged

CALIBRATION_STEPS = 3


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


def calibrate_step_seconds(config: Path, env: dict[str, str], work: Path, log: Path) -> float:
    """Run the trainer for a few steps of `config` in a throwaway store; return the median step
    time after the first one."""
    scratch = work / "calibration"
    shutil.rmtree(scratch, ignore_errors=True)
    events = scratch / "events.jsonl"
    command = advisor_command(
        "train", "--config", str(config), "--run-name", "calibration",
        "--max-steps", str(CALIBRATION_STEPS), "--output-dir", str(scratch / "work"),
        "--events", str(events),
    )  # fmt: skip
    run_logged(
        command, {**env, "ADVISOR_STORE_URL": f"file://{(scratch / 'store').resolve()}"}, log
    )
    times = step_times(events)
    shutil.rmtree(scratch, ignore_errors=True)
    return statistics.median(times[1:] or times)
