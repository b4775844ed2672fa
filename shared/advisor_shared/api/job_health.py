"""The public routes of a job service (evaluator, auditor): `/healthz` (the process answers),
`/readyz` (the object store and, when configured, Redis answer), `/metrics` (Prometheus).

Both services keep those dependencies on `app.state.runtime` (`store`, `redis`)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from .errors import ApiError


def job_health_router(probe_key: str, render_metrics: Callable[[Request], bytes]) -> APIRouter:
    """The three routes; `probe_key` is the object `/readyz` asks the store about."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @router.get("/readyz")
    def readyz(request: Request) -> dict[str, str]:
        """The object store and, when configured, Redis answer."""
        runtime = request.app.state.runtime
        try:
            runtime.store.exists(probe_key)
            if runtime.redis is not None:
                runtime.redis.ping()
        except Exception as exc:  # noqa: BLE001 - any dependency failure means "not ready"
            raise ApiError(503, f"not ready: {type(exc).__name__}", code="not_ready") from None
        return {"status": "ready"}

    @router.get("/metrics", response_class=PlainTextResponse)
    def metrics(request: Request) -> Response:
        """Prometheus text format."""
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(render_metrics(request), media_type=CONTENT_TYPE_LATEST)

    return router
