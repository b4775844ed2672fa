"""The Celery worker of the long queue: `celery -A advisor_trainer.worker worker -Q trainer-long
--concurrency 1`.

Settings come from the environment (`ADVISOR_*`) like every service. The worker is built in
`jobs/worker.py` (the task in `jobs/tasks.py`); each worker process also runs the reconciler
that re-drives a run whose worker died.
"""

from __future__ import annotations

from .core.config import Settings
from .jobs.worker import build_worker

worker = build_worker(Settings(), recover=True)
app, tasks = worker.app, worker.tasks
