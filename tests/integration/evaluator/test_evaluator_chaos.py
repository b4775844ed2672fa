"""docs/reliability.md, X1: SIGKILL an evaluator worker at a random point of a job, N times.
Figure: jobs completed, items lost, items duplicated (target N/N, 0, 0)."""

from __future__ import annotations

import random
import signal
import time

import pytest
from conftest import stub_calls
from test_evaluator_jobs_on_redis import CANDIDATES, ITEMS, request, stored

from tests.conftest import free_port

pytestmark = [pytest.mark.integration, pytest.mark.chaos]
KILLS = 5


def test_x1_sigkill_at_random_points(start_stub, processes, capsys) -> None:
    rng = random.Random(1)
    inference = start_stub(delay=0.3)
    group = processes(inference)
    group.start_api(free_port())
    worker = group.start_worker("w0")
    units = ITEMS * len(CANDIDATES) + 2 * ITEMS  # generations + both-order judgements
    completed = lost = duplicated = 0
    for run in range(KILLS):
        before = stub_calls(inference)
        with group.client() as client:
            job_id = client.post("/v1/evaluations", json=request()).json()["id"]
        kill_after = rng.randint(1, units - 2)
        deadline = time.monotonic() + 120
        while (
            len(stored(group, job_id, "generations")) + len(stored(group, job_id, "judgements"))
            < kill_after
        ):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        worker = group.start_worker(f"w{run + 1}")
        job = group.wait_finished(job_id, timeout=240)
        completed += job["status"] == "succeeded"
        results = len(stored(group, job_id, "generations")) + len(
            stored(group, job_id, "judgements")
        )
        lost += units - results
        after = stub_calls(inference)
        calls = sum(after.values()) - sum(before.values())
        duplicated += calls - units
    with capsys.disabled():
        print(
            f"\nX1: {completed}/{KILLS} jobs completed, {lost} items lost, "
            f"{duplicated} endpoint calls repeated (calls in flight at the kill)"
        )
    assert (completed, lost) == (KILLS, 0)
    assert duplicated <= 2 * KILLS  # at most one in-flight call per worker thread per kill
