"""The in-flight registry on real Redis: a step whose lease is gone while its entry stays (its
worker died) is reported once; a live step, or one that ended normally, never is."""

from __future__ import annotations

import uuid

import pytest
import redis as redis_lib

from advisor_evaluator.jobs import inflight
from advisor_shared.lease import Lease

pytestmark = pytest.mark.integration


def test_only_steps_that_outlived_their_lease_are_abandoned(redis_url: str) -> None:
    redis = redis_lib.Redis.from_url(redis_url)
    queue, job = f"q-{uuid.uuid4().hex[:8]}", f"eval-{uuid.uuid4().hex[:8]}"
    with Lease(redis, f"evaluator:{job}:generate-base-q0", ttl_s=30) as live:
        assert live.held
        with inflight.running(redis, queue, job, "generate-base-q0"):
            assert inflight.abandoned(redis, queue) == {}
    with inflight.running(redis, queue, job, "advance"):
        pass  # ended normally: the entry goes with it
    assert inflight.abandoned(redis, queue) == {}
    # A worker killed mid-unit: its entry stays, its lease is never renewed again.
    context = inflight.running(redis, queue, job, "generate-tuned-q1")
    context.__enter__()
    assert inflight.abandoned(redis, "another-deployment") == {}
    assert inflight.abandoned(redis, queue) == {job: ["generate-tuned-q1"]}
    assert inflight.abandoned(redis, queue) == {}  # reported once
    assert not redis.exists(f"advisor:evaluator:inflight:{job}")
