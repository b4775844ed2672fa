"""`create_app` builds the auditor's HTTP app; run with
`uvicorn --factory advisor_auditor.main:create_app`."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import generate_latest

from advisor_shared.api.job_app import JobService, create_job_app

from .api.routes import audits
from .core.config import Settings
from .jobs.worker import build_worker
from .runtime import Runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    """The auditor API. Without Redis, an in-process worker consumes the audit queue."""
    settings = settings or Settings()
    runtime = Runtime.from_settings(settings)
    worker = build_worker(settings, runtime)
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
        # Only without Redis; it first re-drives the audits a previous process left unfinished.
        inprocess_worker=worker.inprocess,
        state={"runtime": runtime, "celery": worker.app},
    )
