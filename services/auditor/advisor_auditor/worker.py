"""The auditor's Celery app and thin tasks: plan → one task per chunk → finalize.

Run: `celery -A advisor_auditor.worker worker -Q auditor`. Tasks take ids, call `audit_jobs`,
and record the outcome. Reliability is written in the decorators: late acks, requeue when the
worker is lost, bounded retries; results go to deterministic write-once keys, so a redelivered
task never duplicates anything (docs/reliability.md, F2 and F3).

A chunk runs under a lease (a copy of a chunk in flight is sent again later) and, after taking it,
looks for a cancel request; `finalize` settles a cancelled job (`cancellation.py`) and every
chunk that ends while a cancel is pending calls it again, so the job is recorded `cancelled`
as soon as its last chunk in flight is done.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import worker_ready

from advisor_shared.errors import AdvisorError, StoreError
from advisor_shared.lease import Lease
from advisor_shared.queue import make_celery

from .audit_jobs import (
    JOB_KIND,
    all_chunks_done,
    audit_chunk,
    chunk_key,
    chunk_lease_name,
    fail_audit,
    finalize_audit,
    plan_audit,
)
from .cancellation import cancel_requested, settle_cancel
from .core.config import Settings
from .runtime import Runtime

log = logging.getLogger(__name__)
QUEUE = "auditor"
RELIABLE: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "max_retries": 3,
    "default_retry_delay": 5,
    "time_limit": 3600,
    "soft_time_limit": 3300,
    # Each app keeps its own tasks: the API and a test may build apps on different runtimes.
    "shared": False,
}
# A chunk's lease: renewed every third of this while the chunk runs, gone this long after its
# worker dies (then a redelivered copy may run it).
CHUNK_LEASE_TTL_S = 30.0
# A chunk whose lease another worker holds is sent again after this long.
CHUNK_RETRY_S = 10.0
# A cancel waiting for chunks in flight is looked at again after this long.
SETTLE_WATCH_S = 5.0


def create_celery(runtime: Runtime) -> Celery:
    """A Celery app whose tasks act on `runtime` (its store, job records and settings)."""
    app = make_celery(QUEUE, runtime.settings.redis_url)

    def _run(task: Any, job_id: str, step: Any) -> Any:
        try:
            return step()
        except AdvisorError as exc:
            if isinstance(exc, StoreError) and task.request.retries < task.max_retries:
                raise task.retry(exc=exc) from None
            fail_audit(runtime, job_id, str(exc))  # bad input: retrying cannot help
            return None
        except Exception as exc:
            if task.request.retries < task.max_retries:
                raise task.retry(exc=exc) from None
            log.exception("audit %s failed", job_id)
            fail_audit(runtime, job_id, f"internal error: {type(exc).__name__}")
            return None

    @app.task(name="auditor.plan", bind=True, **RELIABLE)
    def plan(self: Any, job_id: str) -> int:
        if cancel_requested(runtime, job_id):
            finalize.delay(job_id)
            return 0
        planned = _run(self, job_id, lambda: plan_audit(runtime, job_id))
        if planned is None:
            return 0
        if not planned["chunks"]:
            finalize.delay(job_id)
        for part, index in planned["chunks"]:
            chunk.delay(job_id, part, index)
        return len(planned["chunks"])

    @app.task(name="auditor.chunk", bind=True, **RELIABLE)
    def chunk(self: Any, job_id: str, part: str, index: int) -> bool:
        lease = Lease(runtime.redis, chunk_lease_name(job_id, part, index), CHUNK_LEASE_TTL_S)
        wrote = None
        with lease:
            if not lease.held:
                # A copy is in flight (or its dead worker's lease has not expired yet): look
                # again later; once its result is stored this copy does nothing.
                if not runtime.store.exists(chunk_key(job_id, part, index)):
                    chunk.apply_async(args=[job_id, part, index], countdown=CHUNK_RETRY_S)
                return False
            if not cancel_requested(runtime, job_id):
                wrote = _run(self, job_id, lambda: audit_chunk(runtime, job_id, part, index))
        # After the lease is released, so that a settling finalize sees this chunk done.
        if cancel_requested(runtime, job_id):
            finalize.delay(job_id)
        elif wrote is not None and all_chunks_done(runtime, job_id):
            finalize.delay(job_id)
        return bool(wrote)

    @app.task(name="auditor.finalize", bind=True, **RELIABLE)
    def finalize(self: Any, job_id: str, watch: bool = False) -> str:
        lease = Lease(runtime.redis, f"auditor:{job_id}:finalize", CHUNK_LEASE_TTL_S)
        with lease:
            if not lease.held:  # another finalize runs now: try again once it is done
                finalize.apply_async(args=[job_id], kwargs={"watch": watch}, countdown=1)
                return "busy"
            if cancel_requested(runtime, job_id):
                settled = _run(self, job_id, lambda: settle_cancel(runtime, job_id))
                if settled == "waiting" and watch:
                    finalize.apply_async(
                        args=[job_id], kwargs={"watch": True}, countdown=SETTLE_WATCH_S
                    )
                return str(settled)
            record = _run(self, job_id, lambda: finalize_audit(runtime, job_id))
        return record.status.value if record is not None else "failed"

    return app


def redrive_unfinished(app: Celery, runtime: Runtime) -> int:
    """Queue the plan step of every unfinished audit again; return how many.

    A worker killed mid-job (SIGKILL, OOM) leaves its message un-acked in Redis until the
    visibility timeout (hours): without this its audit would wait that long (F2). Every step is
    idempotent (stored plan, write-once chunks, finalize once), so a job still queued elsewhere
    only costs a repeated check."""
    unfinished = [r.id for r in runtime.jobs.list(JOB_KIND) if not r.status.finished]
    for job_id in unfinished:
        app.send_task("auditor.plan", args=[job_id], queue=QUEUE)
    return len(unfinished)


# The worker process reads its settings from the environment, like every service.
_runtime = Runtime(Settings())
app = create_celery(_runtime)


@worker_ready.connect
def _redrive_on_start(sender: Any = None, **_: Any) -> None:
    if getattr(sender, "app", None) is app:
        count = redrive_unfinished(app, _runtime)
        if count:
            log.warning("re-queued %d unfinished audit(s) at worker start", count)
