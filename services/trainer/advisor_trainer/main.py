"""The trainer's HTTP app: `uvicorn --factory advisor_trainer.main:create_app --port 8003`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from fastapi import FastAPI

from advisor_shared.api.job_app import JobService, create_job_app

from .api.routes import training_jobs
from .core.config import Settings
from .jobs.runtime import Runtime


def create_app(
    settings: Settings | None = None, *, enqueue: Callable[[str], None] | None = None
) -> FastAPI:
    """Build the app. Without Redis, jobs run on an in-process worker of the long queue; a
    given `enqueue` replaces the queue (nothing consumes it in-process then)."""
    settings = settings or Settings()
    runtime = Runtime.from_settings(settings)
    inprocess_worker: Callable[[], AbstractContextManager[None]] | None = None
    if enqueue is None:
        from .jobs.worker import build_worker

        worker = build_worker(settings, runtime)

        def enqueue(job_id: str) -> None:
            # Queued work is alive: the reconciler's backstop leaves it to the queue.
            runtime.liveness.heartbeat(runtime.redis, job_id)
            worker.tasks.start(job_id)

        # Only without Redis; it first re-drives the jobs a previous process left unfinished.
        inprocess_worker = worker.inprocess

    service = JobService(
        "advisor trainer", probe_key="jobs/training/ready-probe", routers=[training_jobs.router]
    )
    return create_job_app(
        service,
        settings,
        store=runtime.store,
        redis=runtime.redis,
        inprocess_worker=inprocess_worker,
        state={"runtime": runtime, "jobs": runtime.jobs, "enqueue": enqueue},
    )
