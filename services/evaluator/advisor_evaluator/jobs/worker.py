"""The evaluator's worker, built with the kit (`advisor_shared.worker.make_worker`): the Celery
app on the evaluator's queue, its tasks (`tasks.py`) and the reconciler that re-drives
evaluations whose progress stopped (docs/reliability.md, F2).

Used by the worker process (`advisor_evaluator.worker`), the API's in-process worker and the CLI.
"""

from __future__ import annotations

from advisor_shared.worker import Recovery, Worker, WorkerService, make_worker

from ..core.config import Settings
from .runtime import Runtime, build_runtime, liveness
from .submission import JOB_KIND
from .tasks import EvaluatorTasks, register_tasks


def evaluator_service(settings: Settings) -> WorkerService:
    """The evaluator's queue and how its jobs are watched, from its settings."""
    return WorkerService(
        "evaluator",
        settings.queue_name,
        Recovery(
            JOB_KIND,
            liveness(settings),
            interval_s=settings.reconcile_interval_s,
            check_s=settings.abandoned_check_interval_s,
        ),
    )


def build_worker(
    settings: Settings,
    runtime: Runtime | None = None,
    *,
    in_memory: bool = False,
    recover: bool = False,
) -> Worker[Runtime, EvaluatorTasks]:
    """The evaluator's worker on Redis or (`in_memory`, or no Redis) in memory; `recover` runs
    the reconciler in a worker process."""
    return make_worker(
        evaluator_service(settings),
        runtime if runtime is not None else (lambda: build_runtime(settings)),
        register_tasks,
        redis_url=None if in_memory else settings.redis_url,
        recover=recover,
    )
