"""Durable job records, Idempotency-Key under concurrency, and the renewed lease."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from advisor_shared import queue
from advisor_shared.jobs import JobNotFoundError, JobStatus, JobStore
from advisor_shared.lease import Lease

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_client(redis_url: str):
    client = queue.redis_client(redis_url)
    yield client
    client.close()


def test_records_survive_a_new_jobstore_and_update(any_store) -> None:
    record, created = JobStore(any_store).create("evaluation", {"prompts": 3})
    assert created and record.status is JobStatus.QUEUED and record.id.startswith("eval-")
    JobStore(any_store).set_stage("evaluation", record.id, "generate", 2, 3)
    again = JobStore(any_store).get("evaluation", record.id)
    assert again.stages["generate"].done == 2 and again.request == {"prompts": 3}
    with pytest.raises(JobNotFoundError):
        JobStore(any_store).get("evaluation", "eval-missing")
    with pytest.raises(JobNotFoundError):
        JobStore(any_store).get("evaluation", "../escape")


def test_concurrent_posts_with_one_idempotency_key_make_one_job(any_store, redis_client) -> None:
    key = f"key-{time.time_ns()}"
    jobs = JobStore(any_store, redis_client)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: jobs.create("audit", {"n": 1}, key), range(16)))
    ids = {record.id for record, _ in results}
    assert len(ids) == 1
    assert sum(created for _, created in results) == 1
    assert len(jobs.list("audit")) == 1


def test_idempotency_survives_redis_losing_its_keys(local_store, redis_client) -> None:
    key = f"key-{time.time_ns()}"
    first, _ = JobStore(local_store, redis_client).create("audit", {}, key)
    for stale in redis_client.scan_iter("advisor:jobs/audit-idempotency/*"):
        redis_client.delete(stale)  # as after a Redis restart without persistence
    again, created = JobStore(local_store, redis_client).create("audit", {}, key)
    assert (again.id, created) == (first.id, False)


@pytest.mark.parametrize("use_redis", [True, False])
def test_a_second_holder_cannot_take_a_held_lease(redis_client, use_redis: bool) -> None:
    client = redis_client if use_redis else None
    name = f"job-{time.time_ns()}"
    with Lease(client, name, ttl_s=0.6) as first:
        assert first.held
        time.sleep(1.0)  # longer than the ttl: only renewal keeps it
        with Lease(client, name, ttl_s=0.6) as second:
            assert not second.held
    with Lease(client, name, ttl_s=0.6) as third:
        assert third.held
