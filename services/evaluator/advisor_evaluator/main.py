"""The evaluator's HTTP app: `uvicorn --factory advisor_evaluator.main:create_app`."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from advisor_shared.api.job_app import JobService, create_job_app

from .api.metrics import EvaluatorMetrics
from .api.routes import evaluations
from .core.config import Settings
from .jobs.runtime import Runtime, build_runtime
from .jobs.worker import build_worker


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. Without Redis, jobs run on an in-memory broker consumed by a worker
    thread of this process (the embedded default); with Redis, separate workers run them."""
    settings = settings or Settings()
    runtime = runtime or build_runtime(settings)
    worker = build_worker(settings, runtime, in_memory=not settings.redis_url)
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
        # Only without Redis; it first re-drives the jobs a previous process left unfinished.
        inprocess_worker=partial(worker.inprocess, settings.inprocess_concurrency),
        state={
            "runtime": runtime,
            "tasks": worker.tasks,
            "celery": worker.app,
            "metrics": EvaluatorMetrics(),
        },
    )
