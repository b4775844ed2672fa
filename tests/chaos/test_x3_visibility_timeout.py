"""RELIABILITY.md X3 (F1): tasks longer than the Redis visibility timeout (scaled down: 3 s
against 25 s endpoint calls), on two workers, so Redis redelivers running tasks to the other
worker. Figure: redeliveries, duplicate effects (target 0: the unit lease turns every
redelivered copy away, and results are write-once)."""

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
VISIBILITY_S = 3
CALL_S = 25.0  # Redis' consumers look for overdue messages every 10 s


def test_x3_task_longer_than_the_visibility_timeout(tmp_path: Path, capsys) -> None:
    units = evaluation_units(ITEMS)
    with own_redis(tmp_path / "redis") as redis, \
            slow_stub(tmp_path / "stub", delay=CALL_S) as inference, \
            evaluator(tmp_path / "evaluator", redis.url, inference) as group:  # fmt: skip
        group.env["ADVISOR_TEST_VISIBILITY_TIMEOUT_S"] = str(VISIBILITY_S)
        for name in ("v0", "v1"):
            group._spawn(name, [
                sys.executable, "-m", "celery", "-A", "tests.chaos.short_visibility_evaluator",
                "worker", "-Q", group.env["ADVISOR_QUEUE_NAME"], "--pool=threads",
                "--concurrency=2", "--loglevel=INFO", "--without-gossip", "--without-mingle",
                "-n", f"{name}@%h",
            ])  # fmt: skip
        started = time.monotonic()
        with group.client() as client:
            job_id = client.post("/v1/evaluations", json=evaluation_request(ITEMS)).json()["id"]
        job = group.wait_finished(job_id, timeout=400)
        seconds = time.monotonic() - started
        calls = stub_calls(inference)
        stored = len(evaluation_results(group, job_id))
        logs = "".join(log.read_text() for log in group.logs if log.name.startswith("v"))
    unit_task = r"evaluator\.(?:generate|judge|score)\[([0-9a-f-]+)\]"
    received = re.findall(unit_task + r" received", logs)
    redelivered = len(received) - len(set(received))
    busy = len(re.findall(unit_task + r" succeeded in [0-9.]+s: 'busy'", logs))
    duplicated = max(0, calls - units) + max(0, stored - units)
    lost = max(0, units - stored)
    text = (f"visibility timeout {VISIBILITY_S} s, endpoint calls of {CALL_S:.0f} s, 2 workers: "
            f"{redelivered} running tasks redelivered ({busy} turned away by the unit lease), "
            f"{calls} endpoint calls for {units} units, {stored} results stored, job "
            f"{job['status']} in {seconds:.0f} s; {duplicated} duplicate effects")  # fmt: skip
    ok = job["status"] == "succeeded" and duplicated == 0 and lost == 0 and redelivered > 0
    with capsys.disabled():
        figure("X3 task past the visibility timeout", text, runs=units, faults=redelivered,
               lost=lost, duplicated=duplicated, ok=ok)  # fmt: skip
    assert redelivered > 0, "Redis redelivered nothing: the experiment tested nothing"
    assert ok, text
