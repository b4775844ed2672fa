"""Re-drive evaluations whose work stopped (docs/reliability.md, F2 and F5).

A worker killed with SIGKILL leaves its message un-acked in Redis until the visibility timeout
(13 h); the job would wait that long. Instead a reconciler in each worker re-drives:

- every few seconds, jobs with a step abandoned by a dead worker (`inflight.abandoned`: its
  entry outlived its lease), so recovery takes a lease TTL plus one check, not minutes;
- every `reconcile_interval_s`, as the backstop, unfinished jobs whose heartbeat (refreshed while
  units run) expired.

Re-driving is always safe: stored units are skipped, units in flight hold a lease.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from advisor_shared.jobs import JobRecord

from . import inflight
from .runtime import Runtime
from .submission import JOB_KIND

log = logging.getLogger(__name__)


def unfinished_jobs(runtime: Runtime) -> list[JobRecord]:
    return [record for record in runtime.jobs.list(JOB_KIND) if not record.status.finished]


def reconcile_once(
    runtime: Runtime, redrive: Callable[[str], None], *, only_stale: bool = True
) -> list[str]:
    """Re-drive unfinished jobs (those without a live heartbeat when `only_stale`)."""
    redriven = []
    for record in unfinished_jobs(runtime):
        if only_stale and runtime.is_alive(record.id):
            continue
        log.warning(
            "re-driving evaluation %s (status %s, no recent progress)",
            record.id,
            record.status.value,
        )
        redrive(record.id)
        runtime.heartbeat(record.id)  # one re-drive per stale period, not one per tick
        redriven.append(record.id)
    return redriven


def recover_abandoned(runtime: Runtime, redrive: Callable[[str], None]) -> list[str]:
    """Re-drive each job with a step whose worker died; each such step is reported once."""
    redriven = []
    for job_id, steps in inflight.abandoned(runtime.redis, runtime.settings.queue_name).items():
        log.warning("re-driving evaluation %s: %s abandoned by a dead worker", job_id, steps)
        redrive(job_id)
        runtime.heartbeat(job_id)  # the stale backstop need not drive it a second time
        redriven.append(job_id)
    return redriven


class Reconciler:
    """A daemon thread that calls `recover_abandoned` every `check_s` and `reconcile_once`
    every `interval_s` until stopped."""

    def __init__(
        self,
        runtime: Runtime,
        redrive: Callable[[str], None],
        interval_s: float,
        check_s: float | None = None,
    ):
        self.runtime, self.redrive, self.interval_s = runtime, redrive, interval_s
        self.check_s = min(interval_s, check_s if check_s is not None else interval_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="evaluator-reconciler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        next_full = time.monotonic() + self.interval_s
        while not self._stop.wait(self.check_s):
            try:
                recover_abandoned(self.runtime, self.redrive)
                if time.monotonic() >= next_full:
                    next_full = time.monotonic() + self.interval_s
                    reconcile_once(self.runtime, self.redrive)
            except Exception:  # noqa: BLE001 - a store hiccup must not end reconciliation
                log.exception("reconciliation failed; retrying in %.0fs", self.check_s)
