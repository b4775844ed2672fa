"""The kit's progress signs on real Redis: a step whose lease is gone while its entry stays (its
worker died) is reported once, a live step or one that ended normally never is; a heartbeat
expires when progress stops; the reconciler re-drives exactly the jobs that stopped."""

from __future__ import annotations

import time
import uuid

import pytest

from advisor_shared.jobs import JobStatus, JobStore
from advisor_shared.lease import Lease
from advisor_shared.queue import redis_client
from advisor_shared.store import LocalStore
from advisor_shared.worker import Liveness, Reconciler, Recovery, reconcile_once

pytestmark = pytest.mark.integration


def test_only_steps_that_outlived_their_lease_are_abandoned(redis_url: str) -> None:
    redis = redis_client(redis_url)
    queue, job = f"q-{uuid.uuid4().hex[:8]}", f"eval-{uuid.uuid4().hex[:8]}"
    liveness = Liveness("evaluator", queue, stale_after_s=300)
    lease_name = f"evaluator:{job}:generate-base-q0"
    with Lease(redis, lease_name, ttl_s=30) as live:
        assert live.held
        with liveness.running(redis, job, "generate-base-q0", lease_name):
            assert liveness.abandoned(redis) == {}
    with liveness.running(redis, job, "advance", f"evaluator:{job}:advance"):
        pass  # ended normally: the entry goes with it
    assert liveness.abandoned(redis) == {}
    # A worker killed mid-unit: its entry stays, its lease is never renewed again.
    context = liveness.running(redis, job, "generate-tuned-q1", f"evaluator:{job}:q1")
    context.__enter__()
    assert Liveness("evaluator", "another-deployment", 300).abandoned(redis) == {}
    assert liveness.abandoned(redis) == {job: ["generate-tuned-q1"]}
    assert liveness.abandoned(redis) == {}  # reported once
    assert not redis.exists(f"advisor:evaluator:inflight:{job}")


def test_any_lease_name_can_guard_a_step(redis_url: str) -> None:
    """The registry keeps each step's lease key, so a lease not named after the service (the
    trainer's `train:<job>`) works the same."""
    redis = redis_client(redis_url)
    liveness = Liveness("trainer", f"q-{uuid.uuid4().hex[:8]}", stale_after_s=300)
    job = f"train-{uuid.uuid4().hex[:8]}"
    with Lease(redis, f"train:{job}", ttl_s=30) as lease:
        with liveness.running(redis, job, "train", f"train:{job}"):
            assert liveness.abandoned(redis) == {}
            redis.delete(lease.name)  # as if it expired after its holder died
            assert liveness.abandoned(redis) == {job: ["train"]}


def test_a_heartbeat_expires_and_keep_alive_refreshes_it(redis_url: str) -> None:
    redis = redis_client(redis_url)
    liveness = Liveness(f"svc-{uuid.uuid4().hex[:6]}", "q", stale_after_s=1.2)
    assert not liveness.is_alive(redis, "j")
    with liveness.keep_alive(redis, "j"):
        time.sleep(1.6)  # past one stale period: refreshed meanwhile
        assert liveness.is_alive(redis, "j")
    liveness.heartbeat(redis, "j")
    assert liveness.is_alive(redis, "j")
    assert liveness.is_alive(None, "j")  # without Redis nothing is ever stale


def _jobs(tmp_path, redis) -> JobStore:  # type: ignore[no-untyped-def]
    return JobStore(LocalStore(tmp_path), redis)


def test_reconcile_re_drives_unfinished_jobs_without_a_heartbeat(redis_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    redis = redis_client(redis_url)
    jobs = _jobs(tmp_path, redis)
    recovery = Recovery("thing", Liveness(f"svc-{uuid.uuid4().hex[:6]}", "q", 300))
    stale, _ = jobs.create("thing", {"n": 1}, None)
    alive, _ = jobs.create("thing", {"n": 2}, None)
    done, _ = jobs.create("thing", {"n": 3}, None)
    jobs.update("thing", done.id, status=JobStatus.SUCCEEDED)
    recovery.liveness.heartbeat(redis, alive.id)
    redriven: list[str] = []
    assert reconcile_once(recovery, jobs, redis, redriven.append) == [stale.id]
    # Re-driven once per stale period, not once per look.
    assert reconcile_once(recovery, jobs, redis, redriven.append) == []
    assert sorted(reconcile_once(recovery, jobs, redis, redriven.append, only_stale=False)) == (
        sorted([stale.id, alive.id])
    )


def test_a_service_may_re_drive_every_unfinished_job_at_start(redis_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    redis = redis_client(redis_url)
    jobs = _jobs(tmp_path, redis)
    liveness = Liveness(f"svc-{uuid.uuid4().hex[:6]}", "q", 300)
    recovery = Recovery("thing", liveness, redrive_all_at_start=True)
    record, _ = jobs.create("thing", {}, None)
    liveness.heartbeat(redis, record.id)
    redriven: list[str] = []
    reconciler = Reconciler(recovery, jobs, redis, redriven.append)
    reconciler.start()
    reconciler.stop()
    assert redriven == [record.id]


def test_the_reconciler_finds_an_abandoned_step_within_a_check(redis_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    redis = redis_client(redis_url)
    jobs = _jobs(tmp_path, redis)
    recovery = Recovery(
        "thing", Liveness(f"svc-{uuid.uuid4().hex[:6]}", "q", 300), interval_s=60, check_s=0.2
    )
    left, _ = jobs.create("thing", {"n": 1}, None)  # left unfinished by an earlier worker
    queued, _ = jobs.create("thing", {"n": 3}, None)
    recovery.liveness.heartbeat(redis, queued.id)  # submitted just now: alive
    redriven: list[str] = []
    reconciler = Reconciler(recovery, jobs, redis, redriven.append)
    reconciler.start()
    try:
        assert redriven == [left.id]  # at start, the stale ones
        for job in (left, queued):
            jobs.update("thing", job.id, status=JobStatus.SUCCEEDED)
        record, _ = jobs.create("thing", {"n": 2}, None)
        recovery.liveness.heartbeat(redis, record.id)  # queued: alive
        redriven.clear()
        step = recovery.liveness.running(redis, record.id, "chunk-1", f"thing:{record.id}:c1")
        step.__enter__()  # a worker that registered its step and died (no lease was ever held)
        deadline = time.monotonic() + 5
        while not redriven and time.monotonic() < deadline:
            time.sleep(0.05)
        assert redriven == [record.id]
    finally:
        reconciler.stop()
