"""docs/reliability.md, X1 (F2, F3): SIGKILL an evaluator worker and an auditor worker at random
points of tiny jobs (seeded random delays), >= 20 times each, a fresh worker taking over after every
kill. Figure: jobs completed, items lost, items duplicated (target N/N, 0, 0), counted as the
results stored under their deterministic keys."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.chaos.chaos_kit import (
    Auditor,
    evaluation_request,
    evaluation_results,
    evaluation_units,
    evaluator,
    sample_lines,
    slow_stub,
    stub_calls,
)
from tests.integration.reliability.services import figure, own_redis

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(1800)]
KILLS = int(os.environ.get("ADVISOR_CHAOS_KILLS", "20"))  # fewer for a quick try
JOB_TIMEOUT_S = float(os.environ.get("ADVISOR_CHAOS_JOB_TIMEOUT_S", "300"))
ITEMS = 2  # evaluation: 4 generations + 4 judgements
AUDIT_LINES = 6  # audit: 3 chunks of 2 items


def test_x1_sigkill_evaluator_workers(tmp_path: Path, capsys) -> None:
    rng = random.Random(8)
    units = evaluation_units(ITEMS)
    completed = lost = duplicated = mid_job = repeated_calls = 0
    with (
        own_redis(tmp_path / "redis") as redis,
        slow_stub(tmp_path / "stub", delay=0.2) as inference,
        evaluator(tmp_path / "evaluator", redis.url, inference) as group,
    ):
        worker = group.start_worker("w0")
        for run in range(KILLS):
            before = stub_calls(inference)
            with group.client() as client:
                job_id = client.post("/v1/evaluations", json=evaluation_request(ITEMS, f"r{run}"))
                job_id = job_id.json()["id"]
            deadline = time.monotonic() + 120
            while not evaluation_results(group, job_id):  # the job has started on the worker
                assert time.monotonic() < deadline, "the job never started"
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.5))
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            mid_job += len(evaluation_results(group, job_id)) < units
            worker = group.start_worker(f"w{run + 1}")
            job = group.wait_finished(job_id, timeout=JOB_TIMEOUT_S)
            completed += job["status"] == "succeeded"
            stored = len(evaluation_results(group, job_id))  # one file per deterministic key
            lost += max(0, units - stored)
            duplicated += max(0, stored - units)
            repeated_calls += max(0, stub_calls(inference) - before - units)
    text = (
        f"{KILLS} SIGKILLs of an evaluator worker ({mid_job} mid-job): {completed}/{KILLS} "
        f"jobs completed, {lost} items lost, {duplicated} stored twice "
        f"({repeated_calls} endpoint calls repeated, those in flight at a kill)"
    )
    ok = (completed, lost, duplicated) == (KILLS, 0, 0)
    with capsys.disabled():
        figure(
            "X1 SIGKILL evaluator worker",
            text,
            runs=KILLS,
            faults=KILLS,
            lost=lost,
            duplicated=duplicated,
            ok=ok,
        )
    assert ok, text
    assert mid_job >= KILLS // 2, "too few kills landed mid-job to test anything"


def test_x1_sigkill_auditor_workers(tmp_path: Path, capsys) -> None:
    rng = random.Random(9)
    chunks = AUDIT_LINES // 2
    completed = lost = duplicated = mid_job = 0
    with own_redis(tmp_path / "redis") as redis:
        auditor = Auditor(tmp_path / "auditor", redis.url, chunk_size=2)
        try:
            worker = auditor.start_worker("a0")
            with auditor.client() as client:
                for run in range(KILLS):
                    job_id = auditor.submit(client, sample_lines(run, AUDIT_LINES))
                    deadline = time.monotonic() + 300
                    while auditor.status(client, job_id)["status"] == "queued":
                        assert time.monotonic() < deadline, "the job never started"
                        time.sleep(0.02)
                    time.sleep(rng.uniform(0.0, 2.0))
                    worker.send_signal(signal.SIGKILL)
                    worker.wait(timeout=10)
                    mid_job += auditor.status(client, job_id)["status"] not in (
                        "succeeded",
                        "failed",
                    )
                    worker = auditor.start_worker(f"a{run + 1}")
                    job = auditor.wait_finished(client, job_id, timeout=JOB_TIMEOUT_S)
                    completed += job["status"] == "succeeded"
                    lost += max(0, chunks - len(auditor.chunks(job_id)))
                    duplicated += _duplicated_findings(auditor, job_id)
        finally:
            auditor.stop()
    text = (
        f"{KILLS} SIGKILLs of an auditor worker ({mid_job} mid-job): {completed}/{KILLS} "
        f"jobs completed, {lost} chunks lost, {duplicated} findings stored twice"
    )
    ok = (completed, lost, duplicated) == (KILLS, 0, 0)
    with capsys.disabled():
        figure(
            "X1 SIGKILL auditor worker",
            text,
            runs=KILLS,
            faults=KILLS,
            lost=lost,
            duplicated=duplicated,
            ok=ok,
        )
    assert ok, text


def _duplicated_findings(auditor: Auditor, job_id: str) -> int:
    import json

    path = auditor.root / "store" / "audits" / job_id / "findings.jsonl"
    if not path.is_file():
        return 0
    ids = [json.loads(line)["claim_id"] for line in path.read_text().splitlines() if line]
    return len(ids) - len(set(ids))
