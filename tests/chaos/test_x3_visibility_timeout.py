"""docs/reliability.md, X3 (F1): tasks longer than the Redis visibility timeout, on two workers, so
Redis redelivers running tasks to the other worker. Figure: redeliveries, duplicate effects
(target 0: the unit lease turns every redelivered copy away, and results are write-once), and
re-drives by the reconciler (target 0: a turned-away copy leaves no result, so each round's
chord fires when its last unit is stored, not when a copy of it is turned away).

The time model is scaled down (tests/chaos/short_visibility_evaluator.py): a visibility timeout
of 3 s instead of 13 h, overdue messages looked for every second instead of about every 100 s,
and endpoint calls of 12 s, four times the timeout, so each call outlives several scans."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from tests.chaos.chaos_kit import (
    evaluation_request,
    evaluation_results,
    evaluation_units,
    evaluator,
    slow_stub,
    stub_calls,
)
from tests.integration.reliability.services import figure, own_redis

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(1200)]
ITEMS = 2
# Threads per worker: more than a round's units, so redelivered copies are taken while their
# originals still run rather than only when a thread frees up.
THREADS = 4
VISIBILITY_S = 3
CALL_S = 12.0  # several visibility timeouts, several overdue scans
# Longer than the job: a round that stalls is not rescued by the reconciler within the test.
STALE_AFTER_S = 300


def test_x3_task_longer_than_the_visibility_timeout(tmp_path: Path, capsys) -> None:
    units = evaluation_units(ITEMS)
    with (
        own_redis(tmp_path / "redis") as redis,
        slow_stub(tmp_path / "stub", delay=CALL_S) as inference,
        evaluator(tmp_path / "evaluator", redis.url, inference) as group,
    ):
        group.env["ADVISOR_TEST_VISIBILITY_TIMEOUT_S"] = str(VISIBILITY_S)
        group.env["ADVISOR_STALE_JOB_AFTER_S"] = str(STALE_AFTER_S)
        for name in ("v0", "v1"):
            group._spawn(
                name,
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "tests.chaos.short_visibility_evaluator",
                    "worker",
                    "-Q",
                    group.env["ADVISOR_QUEUE_NAME"],
                    "--pool=threads",
                    f"--concurrency={THREADS}",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "-n",
                    f"{name}@%h",
                ],
            )
        # Submitted before a worker is ready, the job would be "stale" to the start-up
        # reconciliation (queued, no heartbeat yet) and re-driven for no fault of Redis.
        deadline = time.monotonic() + 120
        while not all(
            " ready." in log.read_text() for log in group.logs if log.name.startswith("v")
        ):
            assert time.monotonic() < deadline, "the workers did not get ready"
            time.sleep(0.2)
        started = time.monotonic()
        with group.client() as client:
            job_id = client.post("/v1/evaluations", json=evaluation_request(ITEMS)).json()["id"]
        job = group.wait_finished(job_id, timeout=4 * CALL_S + 60)
        seconds = time.monotonic() - started
        calls = stub_calls(inference)
        stored = len(evaluation_results(group, job_id))
        logs = "".join(log.read_text() for log in group.logs if log.name.startswith("v"))
    unit_task = r"evaluator\.(?:generate|judge|score)\[([0-9a-f-]+)\]"
    received = re.findall(unit_task + r" received", logs)
    redelivered = len(received) - len(set(received))
    busy = len(re.findall(unit_task + r" ignored", logs))
    redriven = logs.count("re-driving evaluation")
    duplicated = max(0, calls - units) + max(0, stored - units)
    lost = max(0, units - stored)
    text = (
        f"visibility timeout {VISIBILITY_S} s, endpoint calls of {CALL_S:.0f} s, "
        f"2 workers x {THREADS} threads: "
        f"{redelivered} tasks redelivered ({busy} turned away by the unit lease), "
        f"{calls} endpoint calls for {units} units, {stored} results stored, job "
        f"{job['status']} in {seconds:.0f} s, {redriven} re-drives by the reconciler; "
        f"{duplicated} duplicate effects"
    )
    ok = (
        job["status"] == "succeeded"
        and duplicated == 0
        and lost == 0
        and redelivered > 0
        and redriven == 0
    )
    with capsys.disabled():
        figure(
            "X3 task past the visibility timeout",
            text,
            runs=units,
            faults=redelivered,
            lost=lost,
            duplicated=duplicated,
            ok=ok,
        )
    assert redelivered > 0, "Redis redelivered nothing: the experiment tested nothing"
    assert ok, text
