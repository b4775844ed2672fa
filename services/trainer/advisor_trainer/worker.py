"""The Celery worker of the long queue: `celery -A advisor_trainer.worker worker -Q trainer-long
--concurrency 1`. The task is thin: it takes a job id and calls `run_training_job`."""

from __future__ import annotations

from typing import Any

from celery import Celery

from advisor_shared.jobs import JobStore
from advisor_shared.queue import VISIBILITY_TIMEOUT_S, make_celery, redis_client
from advisor_shared.store import open_store

from .core.config import Settings
from .training_jobs import run_training_job

QUEUE = "trainer-long"
TASK_NAME = "advisor_trainer.train"


def train_job(task: Any, job_id: str) -> dict[str, Any]:
    """The task body: one callable shared by every app instance (Celery keys tasks by name)."""
    settings: Settings = task.app.conf.advisor_trainer_settings
    store = open_store(settings)
    redis = redis_client(settings.redis_url)
    return run_training_job(job_id, settings, JobStore(store, redis), store, redis)


def create_worker_app(settings: Settings | None = None) -> Celery:
    """The Celery app with the training task routed to the long queue."""
    settings = settings or Settings()
    app = make_celery("trainer", settings.redis_url)
    app.conf.task_routes = {TASK_NAME: {"queue": QUEUE}}
    app.conf.task_default_queue = QUEUE
    app.conf.advisor_trainer_settings = settings
    app.task(
        name=TASK_NAME,
        bind=True,
        acks_late=True,  # a worker lost mid-run leaves the message to be redelivered (F2)
        reject_on_worker_lost=True,
        autoretry_for=(ConnectionError,),
        max_retries=3,
        retry_backoff=60,
        # Below the broker's visibility timeout, so Redis never redelivers a running task (F1).
        time_limit=VISIBILITY_TIMEOUT_S - 1800,
    )(train_job)
    return app


app = create_worker_app()
