"""The Celery factory: tasks run on real Redis in a worker process, and on the in-memory broker
in a worker thread of this process — through the broker both times, never eagerly. The Redis
client factory the services share talks to the configured database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from advisor_shared.queue import make_celery, redis_client, run_inprocess_worker

pytestmark = pytest.mark.integration


def test_task_runs_in_a_worker_process_on_redis(redis_url: str) -> None:
    env = {**os.environ, "ADVISOR_REDIS_URL": redis_url}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.fixtures.queue_tasks",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "-Q",
            "advisor-test",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        app = make_celery("advisor-test", redis_url)
        result = app.send_task("tests.add", args=[2, 3])
        assert result.get(timeout=60) == 5
        assert app.send_task("tests.whoami").get(timeout=30) == worker.pid
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_without_redis_the_same_task_runs_through_an_inprocess_worker() -> None:
    app = make_celery("advisor-memory", None)
    seen: list[int] = []

    @app.task(name="memory.record")
    def record(value: int) -> int:
        seen.append(value)
        return value * 2

    assert app.conf.task_always_eager is False
    with run_inprocess_worker(app):
        assert record.delay(21).get(timeout=30) == 42
    assert seen == [21]


def test_reliability_options_are_set() -> None:
    conf = make_celery("x", "redis://127.0.0.1:1/0").conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] > 12 * 3600


def test_redis_client_uses_the_configured_database(redis_url: str) -> None:
    assert redis_client(None) is None and redis_client("") is None  # no Redis: in-memory broker
    client = redis_client(redis_url)
    assert client is not None and client.ping()
    database = int(redis_url.rsplit("/", 1)[1])
    assert client.connection_pool.connection_kwargs["db"] == database
    key = f"advisor-test:redis-client:{os.getpid()}"
    try:
        client.set(key, "stored", ex=60)
        assert client.get(key) == b"stored"
    finally:
        client.delete(key)
