"""The auditor's worker, built with the kit (`advisor_shared.worker.make_worker`): the Celery
app on the `auditor` queue, its tasks (`tasks.py`) and the reconciler that re-drives audits whose
progress stopped (docs/reliability.md, F2).

Used by the worker process (`advisor_auditor.worker`) and the API's in-process worker.
"""

from __future__ import annotations

from advisor_shared.worker import Recovery, Worker, WorkerService, make_worker

from ..core.config import Settings
from ..runtime import LIVENESS, QUEUE, Runtime
from .payloads import JOB_KIND
from .tasks import AuditorTasks, register_tasks

SERVICE = WorkerService(
    "auditor",
    QUEUE,
    # Abandoned chunks are looked for every 5 s (Redis only), the store's records every minute.
    # A starting worker re-drives every unfinished audit: a copy of a chunk still in flight
    # waits for its lease and tries again, so the re-drive costs little and a replaced
    # worker's audit moves at once, not a lease TTL later.
    Recovery(JOB_KIND, LIVENESS, interval_s=60.0, check_s=5.0, redrive_all_at_start=True),
)


def build_worker(
    settings: Settings, runtime: Runtime | None = None, *, recover: bool = False
) -> Worker[Runtime, AuditorTasks]:
    """The auditor's worker on Redis, or in memory without one; `recover` runs the reconciler
    in a worker process."""
    return make_worker(
        SERVICE,
        runtime if runtime is not None else (lambda: Runtime.from_settings(settings)),
        register_tasks,
        redis_url=settings.redis_url,
        recover=recover,
    )
