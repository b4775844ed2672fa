"""The health routes of a job service (trainer, evaluator, auditor): public `/healthz` (the process
answers) and `/readyz` (the object store and, when configured, Redis answer), which say only
that; `/metrics` (Prometheus) carries per-model counts and needs a key like every `/v1` route.

`create_job_app` (advisor_shared.api.job_app) puts those dependencies on `app.state` (`store`,
`redis`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from .errors import ApiError

log = logging.getLogger(__name__)


def job_health_router(probe_key: str) -> APIRouter:
    """The public probes; `probe_key` is the object `/readyz` asks the store about."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @router.get("/readyz")
    def readyz(request: Request) -> dict[str, str]:
        """The object store and, when configured, Redis answer (which one failed: in the log)."""
        state = request.app.state
        try:
            state.store.exists(probe_key)
            if state.redis is not None:
                state.redis.ping()
        except Exception as exc:  # noqa: BLE001 - any dependency failure means "not ready"
            log.warning("not ready: %s: %s", type(exc).__name__, exc)
            raise ApiError(503, "not ready", code="not_ready") from None
        return {"status": "ready"}

    return router


def metrics_router(render_metrics: Callable[[Request], bytes]) -> APIRouter:
    """`/metrics`, to include behind the API-key check (scrape with a bearer key)."""
    router = APIRouter(tags=["health"])

    @router.get("/metrics", response_class=PlainTextResponse)
    def metrics(request: Request) -> Response:
        """Prometheus text format."""
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(render_metrics(request), media_type=CONTENT_TYPE_LATEST)

    return router
