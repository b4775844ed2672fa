"""The demo's stages as a machine-readable record, `stages.json` beside the report.

Each stage's start (epoch seconds), duration, CPU time and outcome is written the moment it ends,
so a run
that fails or is killed part-way still says which stages finished, how long each took and which
one broke. A harness that measures the run from outside (benchmarks/demo_gpu.py samples GPU
memory) lines its samples up with these windows.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console


class StageLog:
    """Times stages, prints a header and a tick per stage, keeps `path` up to date."""

    def __init__(self, path: Path, console: Console):
        self.path, self.console = path, console
        self.stages: list[dict[str, Any]] = []

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per finished stage, by name (the report's `timings`)."""
        return {s["name"]: s["seconds"] for s in self.stages if s["seconds"] is not None}

    @contextmanager
    def stage(self, name: str) -> Iterator[dict[str, Any]]:
        """Run one stage; the yielded record takes extra fields (e.g. `reused`)."""
        record: dict[str, Any] = {
            "name": name,
            "started_at": time.time(),
            "seconds": None,
            "status": "running",
        }
        self.stages.append(record)
        self._write()
        self.console.rule(f"[bold]{name}")
        started, cpu_started = time.monotonic(), cpu_seconds()
        try:
            yield record
        except BaseException as exc:
            record["status"] = "error"
            record["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            raise
        else:
            record["status"] = "ok"
        finally:
            record["seconds"] = round(time.monotonic() - started, 1)
            record["cpu_seconds"] = round(cpu_seconds() - cpu_started, 1)
            self._write()
        self.console.print(f"[green]✓[/green] {name} ({record['seconds']:.0f} s)")

    @property
    def cpu_timings(self) -> dict[str, float]:
        """CPU seconds per finished stage, by name: what it cost the machine, whatever else
        was running (a busy host stretches the wall time, not this)."""
        return {
            s["name"]: s["cpu_seconds"] for s in self.stages if s.get("cpu_seconds") is not None
        }

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(self.path.name + ".partial")
        staging.write_text(json.dumps({"stages": self.stages}, indent=1, default=str))
        staging.replace(self.path)  # a reader never sees half a file


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its children that have ended (a server
    counts once it is stopped: the demo stops them inside the stage that used them)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
