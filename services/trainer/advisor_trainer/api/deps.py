"""Typed dependencies of the trainer API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from advisor_shared.jobs import JobStore

from ..core.config import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_jobs(request: Request) -> JobStore:
    return request.app.state.jobs


def get_redis(request: Request) -> Any | None:
    return request.app.state.redis


def get_enqueue(request: Request):  # noqa: ANN201 - a callable taking a job id
    return request.app.state.enqueue


SettingsDep = Annotated[Settings, Depends(get_settings)]
JobsDep = Annotated[JobStore, Depends(get_jobs)]
EnqueueDep = Annotated[object, Depends(get_enqueue)]
RedisDep = Annotated[Any | None, Depends(get_redis)]
