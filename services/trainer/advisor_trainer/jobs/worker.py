"""The trainer's worker, built with the kit (`advisor_shared.worker.make_worker`): the Celery
app on the long queue, its task (`tasks.py`) and the reconciler that re-drives a run whose worker
died (docs/reliability.md, F2): its lease expires, the in-flight registry reports it, and the
re-driven session continues from the last committed bundle.

Used by the worker process (`advisor_trainer.worker`) and the API's in-process worker.
"""

from __future__ import annotations

from advisor_shared.worker import Recovery, Worker, WorkerService, make_worker

from ..core.config import Settings
from .payloads import JOB_KIND
from .runtime import LIVENESS, QUEUE, Runtime
from .tasks import TrainerTasks, register_tasks

SERVICE = WorkerService(
    "trainer",
    QUEUE,
    # Abandoned runs are looked for every 5 s (Redis only), the store's records every minute.
    Recovery(JOB_KIND, LIVENESS, interval_s=60.0, check_s=5.0),
)


def build_worker(
    settings: Settings, runtime: Runtime | None = None, *, recover: bool = False
) -> Worker[Runtime, TrainerTasks]:
    """The trainer's worker on Redis, or in memory without one; `recover` runs the reconciler
    in a worker process."""
    return make_worker(
        SERVICE,
        runtime if runtime is not None else (lambda: Runtime.from_settings(settings)),
        register_tasks,
        redis_url=settings.redis_url,
        recover=recover,
    )
