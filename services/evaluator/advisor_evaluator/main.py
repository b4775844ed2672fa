"""The evaluator's HTTP app: `uvicorn --factory advisor_evaluator.main:create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from advisor_shared.api import ApiKeyChecker, install_common
from advisor_shared.api.app import docs_routes
from advisor_shared.queue import run_inprocess_worker

from .api.routes import evaluations, health
from .celery_app import create_celery
from .core.config import Settings
from .metrics import EvaluatorMetrics
from .reconciler import reconcile_once
from .runtime import Runtime, build_runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. Without Redis, jobs run on an in-memory broker consumed by a worker
    thread of this process (the embedded default); with Redis, separate workers run them."""
    settings = settings or Settings()
    runtime = runtime or build_runtime(settings)
    in_memory = not settings.redis_url
    celery_app, tasks = create_celery(settings, runtime, in_memory=in_memory)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        with ExitStack() as stack:
            if in_memory:
                stack.enter_context(
                    run_inprocess_worker(celery_app, concurrency=settings.inprocess_concurrency)
                )
                # Nothing else will ever pick up jobs a previous process left unfinished.
                reconcile_once(runtime, tasks.redrive, only_stale=False)
            yield

    app = FastAPI(
        title="advisor evaluator",
        version="0.1.0",
        lifespan=lifespan,
        **docs_routes(settings.environment),
    )
    app.state.settings, app.state.runtime, app.state.tasks = settings, runtime, tasks
    app.state.celery, app.state.metrics = celery_app, EvaluatorMetrics()
    install_common(app, max_body_bytes=settings.max_request_bytes)
    app.include_router(health.router)
    private = APIRouter(
        dependencies=[Depends(ApiKeyChecker(settings.api_keys, settings.effective_admin_keys()))]
    )
    private.include_router(evaluations.router)
    private.include_router(health.metrics)
    app.include_router(private)
    return app
