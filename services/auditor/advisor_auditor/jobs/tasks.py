"""The auditor's Celery tasks: plan → one task per chunk → finalize.

Tasks take ids, call the steps in `audit.py`, and record the outcome. Reliability is the kit's policy
(`reliable_task`: late acks, requeue when the worker is lost, bounded retries, a time limit below
the visibility timeout); results go to deterministic write-once keys, so a redelivered task never
duplicates anything (docs/reliability.md, F2 and F3).

A chunk runs under a lease (a copy of a chunk in flight is sent again later), registered in the
kit's in-flight registry and keeping the job's heartbeat while it runs, so the reconciler
re-drives the audit soon after its worker dies. After taking its lease a chunk looks for a
cancel request; `finalize` settles a cancelled job (`cancellation.py`) and every chunk that ends
while a cancel is pending calls it again, so the job is recorded `cancelled` as soon as its last
chunk in flight is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from celery import Celery, Task

from advisor_shared.errors import AdvisorError, StoreError
from advisor_shared.lease import Lease
from advisor_shared.worker import reliable_task

from ..runtime import Runtime
from .audit import (
    all_chunks_done,
    audit_chunk,
    chunk_key,
    chunk_lease_name,
    fail_audit,
    finalize_audit,
    plan_audit,
)
from .cancellation import cancel_requested, settle_cancel

log = logging.getLogger(__name__)
T = TypeVar("T")  # what a step returns
RELIABLE = reliable_task(3600, soft_time_limit_s=3300, max_retries=3, default_retry_delay=5)
# A chunk's lease: renewed every third of this while the chunk runs, gone this long after its
# worker dies (then a redelivered copy may run it, and the reconciler finds it abandoned).
CHUNK_LEASE_TTL_S = 30.0
# A chunk whose lease another worker holds is sent again after this long.
CHUNK_RETRY_S = 10.0
# A cancel waiting for chunks in flight is looked at again after this long.
SETTLE_WATCH_S = 5.0


@dataclass(frozen=True)
class AuditorTasks:
    plan: Task
    chunk: Task
    finalize: Task

    def redrive(self, job_id: str) -> None:
        """Queue the plan step again: every step is idempotent (stored plan, write-once chunks,
        finalize once), so a job still moving elsewhere only costs a repeated check."""
        self.plan.apply_async(args=[job_id])


def register_tasks(app: Celery, runtime_of: Callable[[], Runtime]) -> AuditorTasks:
    """Define the auditor's tasks on `app`; `runtime_of` gives the process's runtime."""

    def _run(task: Any, job_id: str, step: Callable[[], T]) -> T | None:
        runtime = runtime_of()
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

    @app.task(name="auditor.plan", **RELIABLE)
    def plan(self: Any, job_id: str) -> int:
        runtime = runtime_of()
        if cancel_requested(runtime, job_id):
            finalize.delay(job_id)
            return 0
        planned = _run(self, job_id, lambda: plan_audit(runtime, job_id))
        if planned is None:
            return 0
        runtime.liveness.heartbeat(runtime.redis, job_id)
        if not planned.chunks:
            finalize.delay(job_id)
        for part, index in planned.chunks:
            chunk.delay(job_id, part, index)
        return len(planned.chunks)

    @app.task(name="auditor.chunk", **RELIABLE)
    def chunk(self: Any, job_id: str, part: str, index: int) -> bool:
        runtime = runtime_of()
        lease_name = chunk_lease_name(job_id, part, index)
        lease = Lease(runtime.redis, lease_name, CHUNK_LEASE_TTL_S)
        wrote = None
        with lease:
            if not lease.held:
                # A copy is in flight (or its dead worker's lease has not expired yet): look
                # again later; once its result is stored this copy does nothing.
                if not runtime.store.exists(chunk_key(job_id, part, index)):
                    chunk.apply_async(args=[job_id, part, index], countdown=CHUNK_RETRY_S)
                return False
            if not cancel_requested(runtime, job_id):
                step = f"chunk:{part}-{index:05d}"
                liveness = runtime.liveness
                with (
                    liveness.keep_alive(runtime.redis, job_id),
                    liveness.running(runtime.redis, job_id, step, lease_name),
                ):
                    wrote = _run(self, job_id, lambda: audit_chunk(runtime, job_id, part, index))
        # After the lease is released, so that a settling finalize sees this chunk done.
        if cancel_requested(runtime, job_id):
            finalize.delay(job_id)
        elif wrote is not None and all_chunks_done(runtime, job_id):
            finalize.delay(job_id)
        return bool(wrote)

    @app.task(name="auditor.finalize", **RELIABLE)
    def finalize(self: Any, job_id: str, watch: bool = False) -> str:
        runtime = runtime_of()
        lease_name = f"auditor:{job_id}:finalize"
        lease = Lease(runtime.redis, lease_name, CHUNK_LEASE_TTL_S)
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
            with runtime.liveness.running(runtime.redis, job_id, "finalize", lease_name):
                record = _run(self, job_id, lambda: finalize_audit(runtime, job_id))
        return record.status.value if record is not None else "failed"

    return AuditorTasks(plan, chunk, finalize)
