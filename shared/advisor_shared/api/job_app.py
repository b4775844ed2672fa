"""The HTTP app of a job service (trainer, evaluator, auditor), built one way.

Every job service answers the same probes and takes the same keys: public `/healthz` and
`/readyz` (the object store and, when configured, Redis answer), its `/v1` routes and
`/metrics` behind the API-key check, the request-size limit, request ids and the error shape
of `install_common`, and the docs rules of `docs_routes`. Without Redis (the embedded default)
nothing else will consume its queue, so the app runs a worker in its own process for its
lifetime; with Redis, separate worker processes do.

A service describes itself with a `JobService` and passes what its routes read from
`app.state`:

    app = create_job_app(
        JobService("advisor auditor", probe_key="jobs/audit/ready-probe", routers=[audits.router]),
        settings, store=runtime.store, redis=runtime.redis,
        inprocess_worker=lambda: run_inprocess_worker(celery, [QUEUE]),
        state={"runtime": runtime, "celery": celery},
    )
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, Request

from .app import DEFAULT_MAX_BODY_BYTES, docs_routes, install_common
from .auth import ApiKeyChecker
from .job_health import job_health_router, metrics_router


class JobServiceSettings(Protocol):
    """What the kit reads from a service's settings. Read-only members, so that a service's
    narrower types (`environment` is a Literal in AdvisorSettings) satisfy them."""

    @property
    def environment(self) -> str: ...

    @property
    def redis_url(self) -> str | None: ...

    @property
    def api_keys(self) -> Any: ...

    def effective_admin_keys(self) -> Any: ...


@dataclass(frozen=True)
class JobService:
    """What makes one job service's app its own."""

    title: str
    # The object `/readyz` asks the store about (its absence is fine: the store answered).
    probe_key: str
    # The service's `/v1` routers; all of them sit behind the API-key check.
    routers: Sequence[APIRouter] = field(default_factory=tuple)
    # Prometheus text for `/metrics` (behind the key); None: the service exposes no metrics.
    render_metrics: Callable[[Request], bytes] | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


def create_job_app(
    service: JobService,
    settings: JobServiceSettings,
    *,
    store: Any,
    redis: Any | None,
    inprocess_worker: Callable[[], AbstractContextManager[Any]] | None,
    state: Mapping[str, Any] | None = None,
) -> FastAPI:
    """The service's app. `inprocess_worker` is entered for the app's lifetime when no Redis is
    configured (None: the caller consumes the queue elsewhere, as tests that enqueue by hand).
    `state` goes onto `app.state` beside `settings`, `store` and `redis`, which `/readyz` probes."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        with ExitStack() as stack:
            if inprocess_worker is not None and not settings.redis_url:
                stack.enter_context(inprocess_worker())
            yield

    docs = docs_routes(settings.environment)
    app = FastAPI(
        title=service.title,
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=docs["openapi_url"],
        docs_url=docs["docs_url"],
        redoc_url=docs["redoc_url"],
    )
    app.state.settings, app.state.store, app.state.redis = settings, store, redis
    for name, value in (state or {}).items():
        setattr(app.state, name, value)
    install_common(app, max_body_bytes=service.max_body_bytes)
    app.include_router(job_health_router(service.probe_key))
    protected = APIRouter(
        dependencies=[Depends(ApiKeyChecker(settings.api_keys, settings.effective_admin_keys()))]
    )
    for router in service.routers:
        protected.include_router(router)
    if service.render_metrics is not None:
        protected.include_router(metrics_router(service.render_metrics))
    app.include_router(protected)
    return app
