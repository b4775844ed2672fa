"""Public probes: liveness, readiness, Prometheus metrics (no API key, DESIGN.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import EngineDep, GateDep, MetricsDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(engine: EngineDep) -> JSONResponse:
    """Liveness: the process and the engine's worker are alive."""
    health = await engine.health()
    status = 200 if health.alive else 503
    return JSONResponse({"status": "ok" if health.alive else "dead", "detail": health.detail},
                        status_code=status)  # fmt: skip


@router.get("/readyz")
async def readyz(request: Request, engine: EngineDep) -> JSONResponse:
    """Readiness: the model is loaded (and start-up adapters attempted)."""
    health = await engine.health()
    started = bool(getattr(request.app.state, "started", False))
    ready = health.ready and started
    body = {"status": "ready" if ready else "not_ready", "detail": health.detail or
            ("" if started else "loading"), "models": engine.models(),
            "startup_errors": list(getattr(request.app.state, "startup_errors", []))}  # fmt: skip
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(metrics: MetricsDep, gate: GateDep) -> Response:
    """Prometheus exposition."""
    metrics.in_flight.set(gate.in_flight)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
