"""The trainer's HTTP app: `uvicorn --factory advisor_trainer.main:create_app --port 8003`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager

from fastapi import Depends, FastAPI

from advisor_shared.api import ApiKeyChecker, install_common
from advisor_shared.api.app import docs_routes
from advisor_shared.jobs import JobStore
from advisor_shared.queue import redis_client
from advisor_shared.store import open_store

from .api.routes import training_jobs
from .core.config import Settings


def create_app(
    settings: Settings | None = None, *, enqueue: Callable[[str], None] | None = None
) -> FastAPI:
    """Build the app. Without Redis, jobs run on an in-process worker of the long queue."""
    settings = settings or Settings()
    store = open_store(settings)
    worker_app = None
    if enqueue is None:
        from .worker import QUEUE, TASK_NAME, create_worker_app

        worker_app = create_worker_app(settings)

        def enqueue(job_id: str) -> None:
            worker_app.send_task(TASK_NAME, args=[job_id], queue=QUEUE)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with ExitStack() as stack:
            if worker_app is not None and not settings.redis_url:
                from advisor_shared.queue import run_inprocess_worker

                from .worker import QUEUE

                stack.enter_context(run_inprocess_worker(worker_app, [QUEUE]))
            yield

    app = FastAPI(
        title="advisor trainer",
        version="0.1.0",
        lifespan=lifespan,
        **docs_routes(settings.environment),
    )
    install_common(app)
    app.state.settings = settings
    app.state.redis = redis_client(settings.redis_url)
    app.state.jobs = JobStore(store, app.state.redis)
    app.state.enqueue = enqueue

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> dict[str, str]:
        return {"status": "ready"}

    app.include_router(
        training_jobs.router,
        dependencies=[Depends(ApiKeyChecker(settings.api_keys, settings.effective_admin_keys()))],
    )
    return app
