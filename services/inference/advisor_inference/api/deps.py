"""Typed dependency aliases for the routes; everything lives on `app.state`, built once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..adapters.service import AdapterService
from ..admission import AdmissionGate
from ..core.config import Settings
from ..engines.base import Engine
from ..metrics import GatewayMetrics


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def get_adapters(request: Request) -> AdapterService:
    return request.app.state.adapters  # type: ignore[no-any-return]


def get_gate(request: Request) -> AdmissionGate:
    return request.app.state.gate  # type: ignore[no-any-return]


def get_metrics(request: Request) -> GatewayMetrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
AdaptersDep = Annotated[AdapterService, Depends(get_adapters)]
GateDep = Annotated[AdmissionGate, Depends(get_gate)]
MetricsDep = Annotated[GatewayMetrics, Depends(get_metrics)]
