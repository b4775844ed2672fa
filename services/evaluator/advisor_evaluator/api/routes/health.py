"""Public routes: `/healthz` (the process answers), `/readyz` (store and broker answer),
`/metrics` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from advisor_shared.api import ApiError

from ..deps import MetricsDep, RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(runtime: RuntimeDep) -> dict[str, str]:
    """The object store and, when configured, Redis answer."""
    try:
        runtime.store.exists("jobs/evaluation/ready-probe")
        if runtime.redis is not None:
            runtime.redis.ping()
    except Exception as exc:  # noqa: BLE001 - any dependency failure means "not ready"
        raise ApiError(503, f"not ready: {type(exc).__name__}", code="not_ready") from None
    return {"status": "ready"}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(registry: MetricsDep) -> Response:
    """Prometheus text format."""
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
