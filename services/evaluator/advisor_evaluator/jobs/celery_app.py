"""Build a Celery app carrying the evaluator's tasks (worker, API in-process worker, CLI)."""

from __future__ import annotations

import os

from celery import Celery

from advisor_shared.queue import make_celery

from ..core.config import Settings
from .runtime import Runtime, build_runtime
from .tasks import EvaluatorTasks, register_tasks


class RuntimeHolder:
    """One runtime per process: a Redis client must not cross a fork of the worker pool."""

    def __init__(self, settings: Settings, runtime: Runtime | None = None):
        self.settings = settings
        self._runtime = runtime
        self._pid = os.getpid() if runtime is not None else None

    def __call__(self) -> Runtime:
        if self._runtime is None or self._pid != os.getpid():
            self._runtime = build_runtime(self.settings)
            self._pid = os.getpid()
        return self._runtime


def create_celery(
    settings: Settings, runtime: Runtime | None = None, *, in_memory: bool = False
) -> tuple[Celery, EvaluatorTasks]:
    """A Celery app with the evaluator's tasks, on Redis or (`in_memory`, or no Redis) in memory."""
    app = make_celery(settings.queue_name, None if in_memory else settings.redis_url)
    tasks = register_tasks(app, RuntimeHolder(settings, runtime))
    return app, tasks
