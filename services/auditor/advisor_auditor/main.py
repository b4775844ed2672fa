"""`create_app` builds the auditor's HTTP app; run with
`uvicorn --factory advisor_auditor.main:create_app`."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI
from prometheus_client import generate_latest

from advisor_shared.api.job_app import JobService, create_job_app
from advisor_shared.queue import run_inprocess_worker

from .api.routes import audits
from .core.config import Settings
from .runtime import Runtime
from .worker import QUEUE, create_celery


def create_app(settings: Settings | None = None) -> FastAPI:
    """The auditor API. Without Redis, an in-process worker consumes the audit queue."""
    settings = settings or Settings()
    runtime = Runtime(settings)
    celery = create_celery(runtime)
    service = JobService(
        "advisor auditor",
        probe_key="jobs/audit/ready-probe",
        routers=[audits.router],
        render_metrics=lambda _request: generate_latest(),
        max_body_bytes=settings.auditor_max_body_bytes,
    )
    return create_job_app(
        service,
        settings,
        store=runtime.store,
        redis=runtime.redis,
        inprocess_worker=partial(run_inprocess_worker, celery, [QUEUE]),
        state={"runtime": runtime, "celery": celery},
    )
