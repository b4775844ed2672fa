"""Public `/healthz`, `/readyz`; `/metrics` behind the key (advisor_shared.api.job_health)."""

from __future__ import annotations

from advisor_shared.api.job_health import job_health_router, metrics_router

router = job_health_router("jobs/evaluation/ready-probe")
metrics = metrics_router(lambda request: request.app.state.metrics.render())
