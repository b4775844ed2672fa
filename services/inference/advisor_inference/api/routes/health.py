"""Public probes that say only alive/ready; `/v1/status` (the engine's detail, the models,
start-up errors) and `/metrics` need a key, like every other route (docs/reliability.md, F9)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import EngineDep, GateDep, MetricsDep

router = APIRouter(tags=["health"])
keyed = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(engine: EngineDep) -> JSONResponse:
    """Liveness: the process and the engine's worker are alive."""
    health = await engine.health()
    return JSONResponse(
        {"status": "ok" if health.alive else "dead"}, status_code=200 if health.alive else 503
    )


async def _ready(request: Request, engine: EngineDep) -> tuple[bool, dict]:
    health = await engine.health()
    started = bool(getattr(request.app.state, "started", False))
    ready = health.ready and started
    detail = {
        "status": "ready" if ready else "not_ready",
        "alive": health.alive,
        "detail": health.detail or ("" if started else "loading"),
        "models": engine.models(),
        "startup_errors": list(getattr(request.app.state, "startup_errors", [])),
    }
    return ready, detail


@router.get("/readyz")
async def readyz(request: Request, engine: EngineDep) -> JSONResponse:
    """Readiness: the model is loaded (and start-up adapters attempted)."""
    ready, _ = await _ready(request, engine)
    return JSONResponse(
        {"status": "ready" if ready else "not_ready"}, status_code=200 if ready else 503
    )


@keyed.get("/v1/status")
async def status(request: Request, engine: EngineDep) -> JSONResponse:
    """What `/readyz` decides on: the engine's detail, served models, start-up errors."""
    _, detail = await _ready(request, engine)
    return JSONResponse(detail)


@keyed.get("/metrics", response_class=PlainTextResponse)
async def metrics(metrics: MetricsDep, gate: GateDep) -> Response:
    """Prometheus exposition (scrape with a bearer key)."""
    metrics.in_flight.set(gate.in_flight)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
