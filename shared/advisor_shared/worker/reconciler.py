"""The one recovery pattern of the job services: re-drive jobs whose work stopped
(docs/reliability.md, F2 and F5).

A reconciler runs in each worker process, from `worker_ready` to `worker_shutdown`:

- at start, it re-drives every unfinished job without a live heartbeat (a previous worker may
  have died with it), or every unfinished job where the service asks for it
  (`redrive_all_at_start`: a worker starting is often the replacement of one that died holding
  work, before any sign of it expired);
- every `check_s`, jobs with a step abandoned by a dead worker (`Liveness.abandoned`), so
  recovery takes a lease TTL plus one check, not minutes;
- every `interval_s`, as the backstop, unfinished jobs whose heartbeat expired.

What a re-drive does is the service's (`redrive(job_id)`: queue the job's first step again).
It is always safe: every step is idempotent (stored results are skipped, write-once keys), and a
step in flight holds a lease, so a copy of it turns away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..jobs import JobStore
from .liveness import Liveness

log = logging.getLogger(__name__)
Redrive = Callable[[str], None]


@dataclass(frozen=True)
class Recovery:
    """How one service's jobs are watched: which records, which progress signs, how often."""

    job_kind: str
    liveness: Liveness
    # The backstop over the store's job records (stale heartbeats).
    interval_s: float = 60.0
    # The cheap look for abandoned steps (Redis only).
    check_s: float = 5.0
    # At worker start, re-drive every unfinished job, not only the stale ones. Right for a
    # service whose copies of a step in flight wait and try again (the auditor's chunks);
    # wrong where a copy is turned away for good and a re-drive of queued work only adds steps
    # (the evaluator's units).
    redrive_all_at_start: bool = False


def reconcile_once(
    recovery: Recovery,
    jobs: JobStore,
    redis: object | None,
    redrive: Redrive,
    *,
    only_stale: bool = True,
) -> list[str]:
    """Re-drive unfinished jobs (those without a live heartbeat when `only_stale`)."""
    liveness = recovery.liveness
    redriven = []
    for record in jobs.list(recovery.job_kind):
        if record.status.finished or (only_stale and liveness.is_alive(redis, record.id)):
            continue
        log.warning(
            "re-driving %s job %s (status %s, no recent progress)",
            recovery.job_kind,
            record.id,
            record.status.value,
        )
        redrive(record.id)
        liveness.heartbeat(redis, record.id)  # one re-drive per stale period, not one per tick
        redriven.append(record.id)
    return redriven


def recover_abandoned(recovery: Recovery, redis: object | None, redrive: Redrive) -> list[str]:
    """Re-drive each job with a step whose worker died; each such step is reported once."""
    redriven = []
    for job_id, steps in recovery.liveness.abandoned(redis).items():
        log.warning(
            "re-driving %s job %s: %s abandoned by a dead worker", recovery.job_kind, job_id, steps
        )
        redrive(job_id)
        recovery.liveness.heartbeat(redis, job_id)  # the backstop need not drive it again
        redriven.append(job_id)
    return redriven


class Reconciler:
    """A daemon thread that calls `recover_abandoned` every `check_s` and `reconcile_once`
    every `interval_s` until stopped; `start` first re-drives the stale jobs (every unfinished
    one with `redrive_all_at_start`)."""

    def __init__(self, recovery: Recovery, jobs: JobStore, redis: object | None, redrive: Redrive):
        self.recovery, self.jobs, self.redis, self.redrive = recovery, jobs, redis, redrive
        self.check_s = min(recovery.interval_s, recovery.check_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"{recovery.liveness.service}-reconciler", daemon=True
        )

    def start(self) -> None:
        only_stale = not self.recovery.redrive_all_at_start
        reconcile_once(self.recovery, self.jobs, self.redis, self.redrive, only_stale=only_stale)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        next_full = time.monotonic() + self.recovery.interval_s
        while not self._stop.wait(self.check_s):
            try:
                recover_abandoned(self.recovery, self.redis, self.redrive)
                if time.monotonic() >= next_full:
                    next_full = time.monotonic() + self.recovery.interval_s
                    reconcile_once(self.recovery, self.jobs, self.redis, self.redrive)
            except Exception:  # noqa: BLE001 - a store hiccup must not end reconciliation
                log.exception("reconciliation failed; retrying in %.0fs", self.check_s)
