"""Celery app factory shared by the job services.

With `ADVISOR_REDIS_URL` set, Celery runs on Redis with the reliability options of
docs/reliability.md (F1, F2: late acks, requeue on worker loss, visibility timeout above the longest
task). Without it, the same tasks run on an in-memory broker consumed by a worker thread in the same
process (`run_inprocess_worker`): nothing is executed eagerly, nothing is bypassed.

`redis_client` is the one place a Redis client is built (job records' idempotency keys, leases,
heartbeats, and the tests that inspect them), from the same URL as the broker.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from celery import Celery

if TYPE_CHECKING:
    from redis import Redis

# Longer than the longest task on any queue (a training session is ≤ 12 h), so Redis does not
# redeliver a task that is still running (F1). Long jobs also hold a renewed lease.
VISIBILITY_TIMEOUT_S = 13 * 3600


def redis_client(redis_url: str | None, connect_timeout_s: float | None = None) -> Redis | None:
    """The Redis client of a process, or None without a URL: then the broker is in memory, and
    job records and leases keep their keys in the process instead. `connect_timeout_s` bounds
    the connection attempt (a probe of whether Redis runs at all); by default it is unbounded."""
    if not redis_url:
        return None
    # Imported here: `redis` comes with celery[redis], but a process without Redis never needs it.
    import redis

    return redis.Redis.from_url(redis_url, socket_connect_timeout=connect_timeout_s)


def make_celery(name: str, redis_url: str | None) -> Celery:
    """A Celery app on Redis, or on the in-memory transport when `redis_url` is empty."""
    broker = redis_url or "memory://"
    backend = redis_url or "cache+memory://"
    app = Celery(name, broker=broker, backend=backend)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_default_queue=name,
    )
    return app


@contextmanager
def run_inprocess_worker(
    app: Celery, queues: list[str] | None = None, concurrency: int = 1
) -> Iterator[None]:
    """Consume `app`'s queues in a worker thread of this process for the duration of the block.

    Uses Celery's own embedded worker (`celery.contrib.testing.worker.start_worker`), the
    supported way to run a real worker loop in-process on the memory transport. With
    `concurrency` > 1 tasks run on a thread pool (for I/O-bound tasks such as HTTP calls).
    """
    from celery.contrib.testing.worker import start_worker

    with start_worker(
        app,
        pool="solo" if concurrency == 1 else "threads",
        concurrency=concurrency,
        perform_ping_check=False,
        queues=queues or [app.conf.task_default_queue],
        shutdown_timeout=30.0,
        loglevel="WARNING",
    ):
        yield
