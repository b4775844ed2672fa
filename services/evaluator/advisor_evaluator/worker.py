"""The evaluator's Celery worker: `celery -A advisor_evaluator.worker worker -Q evaluator`.

Settings come from the environment (`ADVISOR_*`) like every service. Besides the tasks, each
worker runs the reconciler that re-drives jobs whose progress stopped (a killed worker).
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_ready, worker_shutdown

from .core.config import Settings
from .jobs.celery_app import create_celery
from .jobs.reconciler import Reconciler, reconcile_once
from .jobs.runtime import build_runtime

settings = Settings()
app, tasks = create_celery(settings)
_reconciler: Reconciler | None = None


@worker_ready.connect
def _start_reconciler(sender: Any = None, **_: Any) -> None:
    """Re-drive stale jobs now (a previous worker may have died), then keep watching."""
    global _reconciler
    if getattr(sender, "app", None) is not app:
        return
    runtime = build_runtime(settings)
    reconcile_once(runtime, tasks.redrive)
    _reconciler = Reconciler(
        runtime, tasks.redrive, settings.reconcile_interval_s, settings.abandoned_check_interval_s
    )
    _reconciler.start()


@worker_shutdown.connect
def _stop_reconciler(**_: Any) -> None:
    if _reconciler is not None:
        _reconciler.stop()
