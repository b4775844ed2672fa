"""The trainer's one task: a training session, thin, on the long queue.

Reliability is the kit's policy (late acks, requeue when the worker is lost, bounded retries, a
time limit below the visibility timeout, F1/F2); a lost connection to the store or Redis is
retried after a minute's backoff. The run holds a lease per job id, so a redelivered or
re-driven message finds it held and returns at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery, Task

from advisor_shared.queue import VISIBILITY_TIMEOUT_S
from advisor_shared.worker import reliable_task

from .runtime import QUEUE, Runtime
from .training import run_training_job

TASK_NAME = "advisor_trainer.train"
# A session is at most 12 h; the limit leaves half an hour below the visibility timeout.
TIME_LIMIT_S = VISIBILITY_TIMEOUT_S - 1800


@dataclass(frozen=True)
class TrainerTasks:
    app: Celery
    train: Task

    def start(self, job_id: str) -> None:
        """Queue a job's session on the long queue."""
        self.app.send_task(TASK_NAME, args=[job_id], queue=QUEUE)

    def redrive(self, job_id: str) -> None:
        """Queue the session again: a run in progress holds the job's lease, so the copy only
        looks; a run whose worker died resumes from its last committed bundle."""
        self.start(job_id)


def register_tasks(app: Celery, runtime_of: Callable[[], Runtime]) -> TrainerTasks:
    """Define the training task on `app`, routed to the long queue."""
    app.conf.task_routes = {TASK_NAME: {"queue": QUEUE}}

    @app.task(
        name=TASK_NAME,
        **reliable_task(
            TIME_LIMIT_S, max_retries=3, autoretry_for=(ConnectionError,), retry_backoff=60
        ),
    )
    def train(self: Any, job_id: str) -> dict[str, Any]:
        return run_training_job(runtime_of(), job_id).message()

    return TrainerTasks(app, train)
