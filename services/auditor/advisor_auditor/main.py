"""`create_app` builds the auditor's HTTP app; run with
`uvicorn --factory advisor_auditor.main:create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from advisor_shared.api import ApiKeyChecker, install_common
from advisor_shared.api.app import docs_routes
from advisor_shared.queue import run_inprocess_worker

from .api.routes import audits, health
from .core.config import Settings
from .runtime import Runtime
from .worker import QUEUE, create_celery


def create_app(settings: Settings | None = None) -> FastAPI:
    """The auditor API. Without Redis, an in-process worker consumes the audit queue."""
    settings = settings or Settings()
    runtime = Runtime(settings)
    celery = create_celery(runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if not settings.redis_url:
                stack.enter_context(run_inprocess_worker(celery, [QUEUE]))
            yield

    app = FastAPI(
        title="advisor auditor",
        version="0.1.0",
        lifespan=lifespan,
        **docs_routes(settings.environment),
    )
    app.state.runtime = runtime
    app.state.celery = celery
    install_common(app, max_body_bytes=settings.auditor_max_body_bytes)
    app.include_router(health.router)
    protected = APIRouter(
        dependencies=[Depends(ApiKeyChecker(settings.api_keys, settings.effective_admin_keys()))]
    )
    protected.include_router(audits.router)
    protected.include_router(health.metrics)
    app.include_router(protected)
    return app
