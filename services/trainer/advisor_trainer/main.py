"""The trainer's HTTP app: `uvicorn --factory advisor_trainer.main:create_app --port 8003`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial

from fastapi import FastAPI

from advisor_shared.api.job_app import JobService, create_job_app
from advisor_shared.jobs import JobStore
from advisor_shared.queue import redis_client, run_inprocess_worker
from advisor_shared.store import open_store

from .api.routes import training_jobs
from .core.config import Settings


def create_app(
    settings: Settings | None = None, *, enqueue: Callable[[str], None] | None = None
) -> FastAPI:
    """Build the app. Without Redis, jobs run on an in-process worker of the long queue; a
    given `enqueue` replaces the queue (nothing consumes it in-process then)."""
    settings = settings or Settings()
    store = open_store(settings)
    redis = redis_client(settings.redis_url)
    inprocess_worker: Callable[[], AbstractContextManager[None]] | None = None
    if enqueue is None:
        from .worker import QUEUE, TASK_NAME, create_worker_app

        worker_app = create_worker_app(settings)

        def enqueue(job_id: str) -> None:
            worker_app.send_task(TASK_NAME, args=[job_id], queue=QUEUE)

        inprocess_worker = partial(run_inprocess_worker, worker_app, [QUEUE])

    service = JobService(
        "advisor trainer", probe_key="jobs/training/ready-probe", routers=[training_jobs.router]
    )
    return create_job_app(
        service,
        settings,
        store=store,
        redis=redis,
        inprocess_worker=inprocess_worker,
        state={"jobs": JobStore(store, redis), "enqueue": enqueue},
    )
