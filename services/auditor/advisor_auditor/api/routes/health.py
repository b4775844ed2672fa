"""Public routes: `/healthz`, `/readyz`, `/metrics` (advisor_shared.api.job_health)."""

from __future__ import annotations

from prometheus_client import generate_latest

from advisor_shared.api.job_health import job_health_router

router = job_health_router("jobs/audit/ready-probe", lambda _request: generate_latest())
