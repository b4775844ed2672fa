"""The worker kit without Redis: one reliability policy, one runtime per process, and
`make_worker` wiring a service's tasks, its queue and its recovery."""

from __future__ import annotations

import os
from typing import Any

import pytest
from celery import Celery

from advisor_shared.jobs import JobStatus
from advisor_shared.queue import VISIBILITY_TIMEOUT_S
from advisor_shared.settings import AdvisorSettings
from advisor_shared.worker import (
    Liveness,
    PerProcess,
    Recovery,
    Runtime,
    WorkerService,
    make_worker,
    reliable_task,
)

pytestmark = pytest.mark.unit


def test_the_policy_acks_late_requeues_bounds_retries_and_stays_below_the_visibility_timeout() -> (
    None
):
    options = reliable_task(600, soft_time_limit_s=540, default_retry_delay=5)
    assert options["acks_late"] and options["reject_on_worker_lost"] and options["bind"]
    assert options["max_retries"] == 3 and options["time_limit"] == 600
    assert options["soft_time_limit"] == 540 and options["default_retry_delay"] == 5
    assert options["shared"] is False
    with pytest.raises(ValueError, match="visibility timeout"):
        reliable_task(VISIBILITY_TIMEOUT_S)


def test_a_forked_process_builds_its_own_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    holder = PerProcess(lambda: built.append(1) or len(built))  # type: ignore[func-returns-value]
    assert holder() == 1 and holder() == 1
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as in a child of the worker pool
    assert holder() == 2


class _Tasks:
    def __init__(self, app: Celery, runtime_of: Any):
        self.redriven: list[str] = []
        self.runtime_of = runtime_of

        @app.task(name="kit.echo", **reliable_task(60))
        def echo(task: Any, value: str) -> str:
            return value

        self.echo = echo

    def redrive(self, job_id: str) -> None:
        self.redriven.append(job_id)


def _service() -> WorkerService:
    return WorkerService("kit", "kit-queue", Recovery("thing", Liveness("kit", "kit-queue", 300)))


def test_make_worker_routes_to_the_queue_and_runs_tasks_in_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = AdvisorSettings(store_url=f"file://{tmp_path}")
    runtime = Runtime.from_settings(settings)
    worker = make_worker(_service(), runtime, _Tasks, redis_url=None)
    assert worker.app.conf.task_default_queue == "kit-queue"
    assert worker.app.conf.task_acks_late and worker.app.conf.task_reject_on_worker_lost
    assert worker.tasks.runtime_of() is runtime
    with worker.inprocess():
        assert worker.tasks.echo.delay("hi").get(timeout=10) == "hi"


def test_in_process_start_re_drives_every_unfinished_job(tmp_path) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime.from_settings(AdvisorSettings(store_url=f"file://{tmp_path}"))
    queued, _ = runtime.jobs.create("thing", {}, None)
    done, _ = runtime.jobs.create("thing", {"n": 2}, None)
    runtime.jobs.update("thing", done.id, status=JobStatus.SUCCEEDED)
    worker = make_worker(_service(), lambda: runtime, _Tasks, redis_url=None)
    with worker.inprocess():
        assert worker.tasks.redriven == [queued.id]


class _RedisAway:
    """A Redis client while the server restarts (F4)."""

    def eval(self, *_args: Any) -> None:
        raise ConnectionError("Connection refused")


def test_a_step_goes_on_while_redis_is_away() -> None:
    liveness = Liveness("kit", "kit-queue", 300)
    ran = []
    with liveness.running(_RedisAway(), "j", "step", "kit:j:step"):
        ran.append("registering failed")
    assert ran == ["registering failed"]


def test_a_step_whose_entry_cannot_be_removed_still_ends_normally() -> None:
    class _GoneAfterRegistering(_RedisAway):
        calls = 0

        def eval(self, *_args: Any) -> None:
            self.calls += 1
            if self.calls > 1:
                raise ConnectionError("Connection closed by server")

    redis = _GoneAfterRegistering()
    with Liveness("kit", "kit-queue", 300).running(redis, "j", "step", "kit:j:step"):
        pass
    assert redis.calls == 2  # registered, then the removal failed quietly
