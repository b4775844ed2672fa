"""Typed dependency aliases for the routes; everything lives on `app.state`, built once.

Every dependency is `async def`: FastAPI runs plain `def` dependencies in a worker thread, and
those thread hops were most of the gateway's own latency (benchmarks/inference_cpu.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import Depends, Request
from pydantic import SecretStr

from advisor_shared.api import ApiKeyChecker, require_admin
from advisor_shared.store import ObjectStore

from ..adapters.service import AdapterService
from ..admission import AdmissionGate
from ..core.config import Settings
from ..engines.base import Engine
from ..metrics import GatewayMetrics


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


async def get_adapters(request: Request) -> AdapterService:
    return request.app.state.adapters


async def get_store(request: Request) -> ObjectStore:
    return request.app.state.store


async def get_gate(request: Request) -> AdmissionGate:
    return request.app.state.gate


async def get_metrics(request: Request) -> GatewayMetrics:
    return request.app.state.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
AdaptersDep = Annotated[AdapterService, Depends(get_adapters)]
StoreDep = Annotated[ObjectStore, Depends(get_store)]
GateDep = Annotated[AdmissionGate, Depends(get_gate)]
MetricsDep = Annotated[GatewayMetrics, Depends(get_metrics)]


def api_key_dependency(
    keys: Sequence[SecretStr | str], admin_keys: Sequence[SecretStr | str] = ()
) -> Callable[[Request], Awaitable[None]]:
    """The shared bearer-key check, run on the event loop instead of a worker thread."""
    checker = ApiKeyChecker(keys, admin_keys)

    async def require_api_key(request: Request) -> None:
        checker(request)

    return require_api_key


async def admin_only(request: Request) -> None:
    """Loading and unloading adapters changes what every client is served: admin keys only."""
    require_admin(request)
