"""The auditor's Celery app and thin tasks: plan → one task per chunk → finalize.

Run: `celery -A advisor_auditor.worker worker -Q auditor`. Tasks take ids, call `audit_jobs`,
and record the outcome. Reliability is written in the decorators: late acks, requeue when the
worker is lost, bounded retries; results go to deterministic write-once keys, so a redelivered
task never duplicates anything (docs/reliability.md, F2 and F3).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import worker_ready

from advisor_shared.errors import AdvisorError, StoreError
from advisor_shared.queue import make_celery

from .audit_jobs import (
    JOB_KIND,
    all_chunks_done,
    audit_chunk,
    fail_audit,
    finalize_audit,
    plan_audit,
)
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
        wrote = _run(self, job_id, lambda: audit_chunk(runtime, job_id, part, index))
        if wrote is not None and all_chunks_done(runtime, job_id):
            finalize.delay(job_id)
        return bool(wrote)

    @app.task(name="auditor.finalize", bind=True, **RELIABLE)
    def finalize(self: Any, job_id: str) -> str:
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
