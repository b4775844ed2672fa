"""Build the gateway app: `uvicorn --factory advisor_inference.main:create_app`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, runtime_checkable

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from advisor_shared.api import install_common
from advisor_shared.api.errors import error_response
from advisor_shared.store import ObjectStore, open_store

from .adapters.service import AdapterService
from .admission import AdmissionGate
from .api.deps import api_key_dependency
from .api.routes import adapters, chat, health, models
from .core.config import Settings
from .engines.base import Engine
from .errors import InferenceError
from .metrics import GatewayMetrics

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    store: ObjectStore | None = None,
) -> FastAPI:
    """The gateway over `engine` (built from settings when not given). The model loads in the
    background: /healthz answers at once, /readyz once the model and start-up adapters are in."""
    settings = settings or Settings()
    if engine is None:
        from .engines.factory import build_engine

        engine = build_engine(settings)
    store = store or open_store(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_start(app))]
        if isinstance(engine, Reconciling):
            tasks.append(asyncio.create_task(_keep_engine_in_sync(engine, settings)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await engine.close()

    # The OpenAPI schema and docs are unauthenticated routes: development only (F9).
    docs = settings.environment == "development"
    app = FastAPI(
        title="advisor-stack inference gateway",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.store = store
    app.state.adapters = AdapterService(store, engine, settings)
    app.state.gate = AdmissionGate(settings.max_in_flight, settings.max_in_flight_per_key)
    app.state.metrics = GatewayMetrics()
    app.state.started = False
    app.state.startup_errors = []
    install_common(app, max_body_bytes=settings.max_body_bytes)

    @app.exception_handler(InferenceError)
    async def _inference_error(request: Request, exc: InferenceError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.param, exc.code, exc.headers)

    if not settings.api_keys:
        log.warning("no API keys configured (ADVISOR_API_KEYS): every /v1 route answers 401")
    keys = [Depends(api_key_dependency(settings.api_keys, settings.effective_admin_keys()))]
    app.include_router(health.router)
    for router in (models.router, chat.router, adapters.router, health.keyed):
        app.include_router(router, dependencies=keys)
    if settings.console_enabled:
        from .console import install_console

        install_console(app, settings, store, app.state.adapters)
    return app


async def _start(app: FastAPI) -> None:
    """Load the model, then the start-up adapters (ADVISOR_ADAPTERS), then those recorded in
    the store by earlier API loads. Refusals are listed in /v1/status; the base serves on."""
    engine: Engine = app.state.engine
    settings: Settings = app.state.settings
    adapters: AdapterService = app.state.adapters
    try:
        await engine.start()
    except Exception:
        log.exception("the engine failed to start")
        return
    for ref in settings.adapters:
        try:
            await adapters.load(ref)
        except InferenceError as exc:
            app.state.startup_errors.append(f"{ref}: {exc.message}")
            log.error("start-up adapter %s refused: %s", ref, exc.message)
        except Exception as exc:  # noqa: BLE001 - the base model keeps serving
            app.state.startup_errors.append(f"{ref}: {type(exc).__name__}")
            log.exception("start-up adapter %s failed", ref)
    try:
        problems = await adapters.restore()
    except Exception as exc:  # noqa: BLE001 - the base model keeps serving
        problems = [f"recorded adapters: {type(exc).__name__}"]
        log.exception("restoring the recorded adapters failed")
    for problem in problems:
        app.state.startup_errors.append(problem)
        log.error("recorded adapter not restored: %s", problem)
    app.state.started = True


@runtime_checkable
class Reconciling(Protocol):
    """An engine in another process that may forget adapters (vLLM, when it restarts)."""

    async def reconcile(self) -> list[str]: ...


async def _keep_engine_in_sync(engine: Reconciling, settings: Settings) -> None:
    """Every `VLLM_SYNC_INTERVAL_S`: the engine registers again what it forgot."""
    while True:
        await asyncio.sleep(settings.vllm_sync_interval_s)
        try:
            await engine.reconcile()
        except Exception:  # noqa: BLE001 - the loop must outlive one failed round
            log.exception("keeping the engine's adapters in sync failed")
