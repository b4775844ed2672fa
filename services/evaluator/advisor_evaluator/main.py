"""The evaluator's HTTP app: `uvicorn --factory advisor_evaluator.main:create_app`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from advisor_shared.api.job_app import JobService, create_job_app
from advisor_shared.queue import run_inprocess_worker

from .api.metrics import EvaluatorMetrics
from .api.routes import evaluations
from .core.config import Settings
from .jobs.celery_app import create_celery
from .jobs.reconciler import reconcile_once
from .jobs.runtime import Runtime, build_runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. Without Redis, jobs run on an in-memory broker consumed by a worker
    thread of this process (the embedded default); with Redis, separate workers run them."""
    settings = settings or Settings()
    runtime = runtime or build_runtime(settings)
    celery_app, tasks = create_celery(settings, runtime, in_memory=not settings.redis_url)

    @contextmanager
    def inprocess_worker() -> Iterator[None]:
        with run_inprocess_worker(celery_app, concurrency=settings.inprocess_concurrency):
            # Nothing else will ever pick up jobs a previous process left unfinished.
            reconcile_once(runtime, tasks.redrive, only_stale=False)
            yield

    service = JobService(
        "advisor evaluator",
        probe_key="jobs/evaluation/ready-probe",
        routers=[evaluations.router],
        render_metrics=lambda request: request.app.state.metrics.render(),
        max_body_bytes=settings.max_request_bytes,
    )
    return create_job_app(
        service,
        settings,
        store=runtime.store,
        redis=runtime.redis,
        inprocess_worker=inprocess_worker,
        state={
            "runtime": runtime,
            "tasks": tasks,
            "celery": celery_app,
            "metrics": EvaluatorMetrics(),
        },
    )
