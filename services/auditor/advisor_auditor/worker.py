"""The auditor's Celery worker: `celery -A advisor_auditor.worker worker -Q auditor`.

Settings come from the environment (`ADVISOR_*`) like every service. The worker is built in
`jobs/worker.py` (tasks in `jobs/tasks.py`); each worker process also runs the reconciler that
re-drives audits whose progress stopped (a killed worker).
"""

from __future__ import annotations

from .core.config import Settings
from .jobs.worker import build_worker

worker = build_worker(Settings(), recover=True)
app, tasks = worker.app, worker.tasks
