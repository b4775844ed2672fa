"""Typed dependency aliases for the routes; everything lives on `app.state`, built once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..core.config import Settings
from ..jobs.runtime import Runtime
from ..jobs.tasks import EvaluatorTasks
from .metrics import EvaluatorMetrics


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_tasks(request: Request) -> EvaluatorTasks:
    return request.app.state.tasks


def get_metrics(request: Request) -> EvaluatorMetrics:
    return request.app.state.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
TasksDep = Annotated[EvaluatorTasks, Depends(get_tasks)]
MetricsDep = Annotated[EvaluatorMetrics, Depends(get_metrics)]
