"""The Celery tasks of the evaluator, thin like web views: take ids, call domain code, let the
kit's policy own the reliability options (late acks, requeue on worker loss, bounded retries,
time limits below the visibility timeout). Registered on any Celery app by `jobs/worker.py`, so
the worker, the API's in-process worker and the CLI run the very same tasks."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery, Task, chord
from celery.exceptions import Ignore

from advisor_shared.lease import Lease
from advisor_shared.worker import reliable_task

from ..errors import EndpointUnavailable, JobCancelled
from .orchestration import advance_job, fail_job
from .pipeline import WorkUnit
from .runtime import Runtime
from .submission import JOB_KIND
from .units import execute_unit, record_failure, unit_finished

# A job step whose lease another worker holds is tried again after this long.
LEASE_WAIT_S = 2.0
# A re-driven job whose pending units are all in flight is looked at again after this long.
WATCH_S = 5.0
# Time limits: a generation of 512 tokens on a loaded CPU engine can take minutes.
ENDPOINT_TIME_LIMIT_S = 1800
SCORE_TIME_LIMIT_S = 600
FACTUALITY_TIME_LIMIT_S = 4 * 3600
ADVANCE_TIME_LIMIT_S = 1800
# Retries are counted by the tasks themselves (`endpoint_max_retries` per unit and per job
# step); this bound only has to stay above them and above the lease waits of one step
# (one every LEASE_WAIT_S for at most ADVANCE_TIME_LIMIT_S).
MAX_RETRIES = int(ADVANCE_TIME_LIMIT_S / LEASE_WAIT_S) + 100


def _reliable(time_limit_s: float) -> dict[str, Any]:
    return reliable_task(time_limit_s + 60, soft_time_limit_s=time_limit_s, max_retries=MAX_RETRIES)


def backoff_s(failures: int) -> float:
    """Exponential backoff with jitter: 1, 2, 4 … 60 s."""
    return min(60.0, 2.0**failures) + random.uniform(0, 1)


@dataclass(frozen=True)
class EvaluatorTasks:
    advance: Task
    units: dict[str, Task]

    def start(self, job_id: str) -> None:
        """Queue the first step of a job."""
        self.advance.apply_async(args=[job_id])

    def redrive(self, job_id: str) -> None:
        self.advance.apply_async(args=[job_id], kwargs={"recover": True})

    def settle(self, job_id: str) -> None:
        """After a cancel request: one step now, watching until no unit is in flight."""
        self.advance.apply_async(args=[job_id], kwargs={"watch": True})


def register_tasks(app: Celery, runtime_of: Callable[[], Runtime]) -> EvaluatorTasks:
    """Define the evaluator's tasks on `app`; `runtime_of` gives the process's runtime."""

    @app.task(name="evaluator.advance", **_reliable(ADVANCE_TIME_LIMIT_S))
    def advance(self: Task, job_id: str, recover: bool = False, watch: bool = False) -> str:
        """One step of a job: plan, dispatch the next round as a chord, report, or fail.

        A re-drive (`recover`) that finds every pending unit in flight keeps looking (`watch`)
        until they are done: those units belong to a chord that lost a member with the dead
        worker and will never fire, so nothing else would advance the job before the stale
        backstop."""
        runtime = runtime_of()
        lease_name = f"evaluator:{job_id}:advance"
        lease = Lease(runtime.redis, lease_name, ttl_s=runtime.settings.unit_lease_ttl_s)
        with lease:
            if not lease.held:
                raise self.retry(countdown=LEASE_WAIT_S)
            # Registered until the next round is queued: a worker killed before that leaves an
            # entry without a lease, and the reconciler drives the job again within seconds.
            with runtime.liveness.running(runtime.redis, job_id, "advance", lease_name):
                step = advance_job(runtime, job_id, recover=recover)
                if (
                    step.action == "retry"
                    and self.request.retries >= runtime.settings.endpoint_max_retries
                ):
                    fail_job(runtime, runtime.jobs.get(JOB_KIND, job_id), f"gave up: {step.reason}")
                    return "failed"
                if step.action == "dispatch":
                    header = [units[u.stage].si(job_id, u.to_dict()) for u in step.units]
                    chord(header)(advance.si(job_id))
        if step.action == "retry":
            raise self.retry(countdown=backoff_s(self.request.retries))
        if step.action == "wait" and (recover or watch):
            advance.apply_async(args=[job_id], kwargs={"watch": True}, countdown=WATCH_S)
        return step.action

    def run_unit(self: Task, job_id: str, unit_data: dict[str, Any], failures: int = 0) -> str:
        runtime = runtime_of()
        unit = WorkUnit.from_dict(unit_data)
        results = runtime.results(job_id)
        if unit_finished(results, unit) or _job_finished(runtime, job_id):
            return "skipped"
        unavailable: EndpointUnavailable | None = None
        lease_name = unit.lease_name(job_id)
        lease = Lease(runtime.redis, lease_name, ttl_s=runtime.settings.unit_lease_ttl_s)
        with lease, runtime.keep_alive(job_id):
            # Held elsewhere: this is a duplicate of a unit in flight (often the very message,
            # redelivered by Redis past its visibility timeout), whose holder will advance the
            # job when the result is stored. The copy must leave no result: a chord counts each
            # task id once, so a copy's early "success" would fire the chord body before the
            # unit is stored and swallow the holder's own completion, and the job would wait
            # for the reconciler. `Ignore` acks the message and records nothing. If the holder
            # dies, its lease expires, the heartbeat stops and the reconciler re-dispatches.
            if not lease.held:
                raise Ignore()
            if unit_finished(results, unit):
                return "skipped"
            # Checked while holding the lease: `advance` records `cancelled` only when no unit
            # lease is held, so a unit past this line always finishes before that record.
            if runtime.jobs.cancel_requested(JOB_KIND, job_id):
                return "cancelled"
            try:
                # Registered while it runs: if this worker dies, the entry outlives the lease
                # and the reconciler re-dispatches the unit a lease TTL later (the kit's liveness).
                with runtime.liveness.running(runtime.redis, job_id, unit.name, lease_name):
                    execute_unit(runtime, job_id, unit)
            except JobCancelled:
                return "cancelled"
            except EndpointUnavailable as exc:
                if failures >= runtime.settings.endpoint_max_retries:
                    record_failure(
                        runtime, job_id, unit, f"gave up after {failures + 1} attempts: {exc}"
                    )
                    return "failed"
                unavailable = exc
            except Exception as exc:  # noqa: BLE001 - any other error fails the job with its reason
                record_failure(runtime, job_id, unit, f"{type(exc).__name__}: {exc}")
                return "failed"
        if unavailable is not None:
            raise self.retry(
                kwargs={"job_id": job_id, "unit_data": unit_data, "failures": failures + 1},
                countdown=backoff_s(failures),
                exc=unavailable,
            )
        runtime.heartbeat(job_id)
        return "done"

    limits = {
        "generate": ENDPOINT_TIME_LIMIT_S,
        "score": SCORE_TIME_LIMIT_S,
        "judge": ENDPOINT_TIME_LIMIT_S,
        "factuality": FACTUALITY_TIME_LIMIT_S,
    }
    units = {
        stage: app.task(name=f"evaluator.{stage}", **_reliable(limit))(run_unit)
        for stage, limit in limits.items()
    }
    return EvaluatorTasks(advance, units)


def _job_finished(runtime: Runtime, job_id: str) -> bool:
    try:
        return runtime.jobs.get(JOB_KIND, job_id).status.finished
    except Exception:  # noqa: BLE001 - an unknown job is finished as far as units go
        return True
