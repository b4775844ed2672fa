"""The job-service worker kit: one runtime, one reliability policy, one recovery pattern.

- `Runtime` (`runtime.py`): settings, store, job records, Redis, leases;
- `reliable_task` (`policy.py`): the options every task is declared with;
- `Liveness` (`liveness.py`): heartbeats and the in-flight registry of steps;
- `Recovery`, `Reconciler` (`reconciler.py`): re-drive jobs whose progress stopped;
- `make_worker` (`factory.py`): the Celery app, the tasks and the recovery of one service.
"""

from .factory import JobTasks, Worker, WorkerService, make_worker
from .liveness import Liveness
from .policy import reliable_task
from .reconciler import Reconciler, Recovery, reconcile_once, recover_abandoned
from .runtime import PerProcess, Runtime

__all__ = [
    "JobTasks",
    "Liveness",
    "PerProcess",
    "Reconciler",
    "Recovery",
    "Runtime",
    "Worker",
    "WorkerService",
    "make_worker",
    "reconcile_once",
    "recover_abandoned",
    "reliable_task",
]
