"""Public routes: `/healthz`, `/readyz`, `/metrics` (advisor_shared.api.job_health)."""

from __future__ import annotations

from advisor_shared.api.job_health import job_health_router

router = job_health_router(
    "jobs/evaluation/ready-probe", lambda request: request.app.state.metrics.render()
)
