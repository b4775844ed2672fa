"""`make_worker`: a job service's Celery app, its tasks and its recovery, built one way.

    worker = make_worker(
        WorkerService("auditor", queue="auditor", recovery=RECOVERY),
        runtime=lambda: Runtime.from_settings(Settings()),
        register=register_tasks,   # (app, runtime_of) -> the service's tasks, with `redrive`
        redis_url=settings.redis_url,
        recover=True,              # the worker process: reconcile from worker_ready to shutdown
    )
    app = worker.app               # `celery -A advisor_auditor.worker worker -Q auditor`

The app comes from `make_celery` (late acks, requeue on worker loss, visibility timeout) and
routes to the service's queue; the tasks take their options from `policy.reliable_task`; the
runtime is built once per process (`PerProcess`). An API or CLI without Redis runs the same
tasks on an in-memory broker with `worker.inprocess()`, which first re-drives every unfinished
job: nothing else would ever pick up the work a previous process left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

from ..queue import make_celery, run_inprocess_worker
from .reconciler import Reconciler, Recovery, reconcile_once
from .runtime import PerProcess, Runtime

R = TypeVar("R", bound=Runtime[Any])


class JobTasks(Protocol):
    """What the kit needs of a service's tasks: how to set a stopped job moving again."""

    def redrive(self, job_id: str) -> None: ...


T = TypeVar("T", bound=JobTasks)


@dataclass(frozen=True)
class WorkerService:
    """What makes one service's worker its own."""

    # The Celery app's name.
    name: str
    # The queue its tasks go to and its workers consume.
    queue: str
    recovery: Recovery


@dataclass
class Worker(Generic[R, T]):
    """A service's Celery app with its tasks, and the runtime they act on."""

    service: WorkerService
    app: Celery
    tasks: T
    runtime: PerProcess[R]
    _reconciler: Reconciler | None = field(default=None, repr=False)

    def recover_all(self) -> list[str]:
        """Re-drive every unfinished job, stale or not."""
        runtime = self.runtime()
        return reconcile_once(
            self.service.recovery, runtime.jobs, runtime.redis, self.tasks.redrive, only_stale=False
        )

    @contextmanager
    def inprocess(self, concurrency: int = 1) -> Iterator[None]:
        """Consume the queue in this process for the block (the embedded default, the CLI)."""
        with run_inprocess_worker(self.app, [self.service.queue], concurrency=concurrency):
            self.recover_all()
            yield

    def start_recovery(self) -> None:
        """Re-drive stopped jobs now, then keep watching (the worker process's `worker_ready`)."""
        runtime = self.runtime()
        self._reconciler = Reconciler(
            self.service.recovery, runtime.jobs, runtime.redis, self.tasks.redrive
        )
        self._reconciler.start()

    def stop_recovery(self) -> None:
        if self._reconciler is not None:
            self._reconciler.stop()
            self._reconciler = None

    def _watch_worker_signals(self) -> None:
        app = self.app

        def on_ready(sender: Any = None, **_: Any) -> None:
            if getattr(sender, "app", None) is app:
                self.start_recovery()

        def on_shutdown(sender: Any = None, **_: Any) -> None:
            self.stop_recovery()

        # Strong references: the receivers live as long as the worker does.
        worker_ready.connect(on_ready, weak=False)
        worker_shutdown.connect(on_shutdown, weak=False)


def make_worker(
    service: WorkerService,
    runtime: R | Callable[[], R],
    register: Callable[[Celery, Callable[[], R]], T],
    *,
    redis_url: str | None,
    recover: bool = False,
) -> Worker[R, T]:
    """Build the app (on Redis at `redis_url`, in memory without one), register the service's
    tasks on it, and with `recover` run the reconciler from `worker_ready` to
    `worker_shutdown`. `runtime` is the process's runtime, or how to build it (lazily, once per
    process)."""
    app = make_celery(service.name, redis_url)
    app.conf.task_default_queue = service.queue
    if isinstance(runtime, Runtime):
        built: R = runtime
        runtime_of = PerProcess(lambda: built, built)
    else:
        runtime_of = PerProcess(runtime)
    worker = Worker(service, app, register(app, runtime_of), runtime_of)
    if recover:
        worker._watch_worker_signals()
    return worker
