"""Typed dependencies of the auditor's routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from ..core.config import Settings
from ..runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


def get_celery(request: Request) -> Any:
    return request.app.state.celery


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CeleryDep = Annotated[Any, Depends(get_celery)]
