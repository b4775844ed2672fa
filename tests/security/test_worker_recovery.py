"""Finding 4: an evaluation whose worker was SIGKILLed mid-job waited 6 min 19 s (stale after
300 s, looked for every 60 s; the broker's visibility timeout is 13 h). With the production
timing settings (none scaled down), a real Celery worker is killed while it holds units of a job
and a second worker finishes the job: once, and within 60 s of the kill."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from advisor_shared.queue import redis_client
from tests.conftest import free_port
from tests.integration.evaluator.evaluator_processes import (
    EvaluatorProcesses,
    evaluator_env,
    wait_http,
)
from tests.integration.reliability.services import figure

pytestmark = pytest.mark.integration

BOUND_S = 60.0
ITEMS = 4
CANDIDATES = ("base", "tuned")
# The test environment scales these down so other tests recover fast; this one measures the
# defaults a deployment gets.
SCALED_DOWN = (
    "ADVISOR_STALE_JOB_AFTER_S",
    "ADVISOR_RECONCILE_INTERVAL_S",
    "ADVISOR_UNIT_LEASE_TTL_S",
)


def stub_calls(inference: str) -> int:
    return sum(httpx.get(inference.removesuffix("/v1") + "/stats").json()["calls"].values())


def generations(group: EvaluatorProcesses, job_id: str) -> list[Path]:
    folder = group.store_dir / "evaluations" / job_id / "generations"
    return sorted(folder.rglob("*.json")) if folder.is_dir() else []


def test_a_killed_workers_job_finishes_once_within_a_minute(
    tmp_path: Path, redis_url: str, capsys
) -> None:
    stub_port = free_port()
    inference = f"http://127.0.0.1:{stub_port}/v1"
    env = evaluator_env(tmp_path, redis_url, inference, "stub-key")
    for name in SCALED_DOWN:
        env.pop(name)
    group = EvaluatorProcesses(tmp_path, env)
    redis = redis_client(redis_url)
    try:
        stub = group.spawn(
            "stub",
            [
                sys.executable,
                "-m",
                "tests.integration.evaluator.openai_stub",
                "--port",
                str(stub_port),
                "--delay",
                "3",
            ],
        )
        wait_http(inference + "/models", stub, tmp_path / "stub.log", timeout=60)
        group.start_api(free_port())
        first = group.start_worker("first", concurrency=2)
        rows = [
            {
                "id": f"q{i}",
                "prompt": f"Which visa do I need for course {i} in Norvania?",
                "reference": f"You need the Norvania student visa ({i}).",
            }
            for i in range(ITEMS)
        ]
        body = {
            "dataset": {"items": rows},
            "candidates": list(CANDIDATES),
            "metrics": ["rouge_l"],
            "generation": {"max_tokens": 32},
        }
        with group.client() as client:
            submitted = client.post("/v1/evaluations", json=body)
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        # Kill the first worker while it holds a unit of the job (its lease is in Redis).
        deadline = time.monotonic() + 90
        while not redis.keys(f"advisor:lease:evaluator:{job_id}:generate-*"):
            assert time.monotonic() < deadline, "the first worker never started a unit"
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(0.05)
        time.sleep(0.5)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        held = len(redis.keys(f"advisor:lease:evaluator:{job_id}:*"))
        group.start_worker("second", concurrency=2)
        job = group.wait_finished(job_id, timeout=BOUND_S + 30)
        recovery_s = time.monotonic() - killed_at
        units = ITEMS * len(CANDIDATES)
        stored = len(generations(group, job_id))
        calls = stub_calls(inference)
    finally:
        group.stop()
    text = (
        f"evaluator worker SIGKILLed holding {held} unit(s) of a {units}-generation job "
        f"(3 s per call), production timing settings, a second worker started: job "
        f"{job['status']} {recovery_s:.1f} s after the kill (bound {BOUND_S:.0f} s; was "
        f"379 s), {stored}/{units} generations stored once, {calls} endpoint calls "
        f"({calls - units} repeated, those in flight at the kill)"
    )
    ok = job["status"] == "succeeded" and stored == units and recovery_s <= BOUND_S
    with capsys.disabled():
        figure(
            "worker-kill recovery (issue 17)",
            text,
            runs=1,
            faults=1,
            lost=units - stored,
            duplicated=0,
            ok=ok,
            recovery_s=round(recovery_s, 1),
        )
    assert job["status"] == "succeeded", job
    assert stored == units
    assert calls - units <= held, "a unit ran twice beyond the calls in flight at the kill"
    assert recovery_s <= BOUND_S, text
