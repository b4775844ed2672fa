"""The evaluation job over HTTP with real Redis and real Celery worker processes: it completes,
and a worker killed with SIGKILL mid-job is replaced without losing or repeating any item."""

from __future__ import annotations

import json
import signal
import time
import uuid

import pytest
from conftest import stub_calls
from evaluator_processes import EvaluatorProcesses

from tests.conftest import free_port

pytestmark = pytest.mark.integration
ITEMS = 8
CANDIDATES = ("base", "tuned")


def request(n: int = ITEMS) -> dict:
    items = [
        {
            "id": f"q{i}",
            "prompt": f"Which visa do I need for course {i} in Norvania?",
            "reference": f"You need the Norvania student visa; check the official page ({i}).",
        }
        for i in range(n)
    ]
    return {
        "dataset": {"items": items},
        "candidates": list(CANDIDATES),
        "metrics": ["rouge_l", "judge"],
        "judge": {"model": "judge-stub"},
        "generation": {"max_tokens": 400},
    }


def stored(group: EvaluatorProcesses, job_id: str, folder: str) -> list[str]:
    root = group.store_dir / "evaluations" / job_id / folder
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.json")) if root.is_dir() else []


def test_job_completes_through_redis_and_a_worker_process(start_stub, processes) -> None:
    inference = start_stub()
    group = processes(inference)
    group.start_api(free_port())
    group.start_worker("w1")
    key = {"Idempotency-Key": f"key-{uuid.uuid4().hex}"}  # Redis outlives test runs
    with group.client() as client:
        submitted = client.post("/v1/evaluations", json=request(), headers=key)
        assert submitted.status_code == 202, submitted.text
        again = client.post("/v1/evaluations", json=request(), headers=key)
    job_id = submitted.json()["id"]
    assert again.json()["id"] == job_id
    job = group.wait_finished(job_id, timeout=120)
    assert job["status"] == "succeeded", job
    with group.client() as client:
        report = client.get(job["links"]["report"]).json()
    judge = report["comparisons"][0]["judge"]
    assert (judge["win"], judge["tie"], judge["loss"]) == (0, 0, ITEMS)  # base gives the caveat
    assert report["judge_bias"]["position_consistency"]["value"] == 1.0
    # Read from the token probabilities the official client parsed: 0.8 vs 0.1 and 0.05.
    assert report["judge_bias"]["methods"] == {"logprobs": 2 * ITEMS}
    assert report["judge_bias"]["margin"]["quantiles"]["p50"] == pytest.approx(0.7 / 0.95)
    assert report["headline"]["judge_unparseable_rate"] == 0.0
    assert stub_calls(inference) == {"base": ITEMS, "tuned": ITEMS, "judge-stub": 2 * ITEMS}


def test_a_worker_killed_mid_job_is_replaced_and_every_item_runs_once(
    start_stub, processes
) -> None:
    inference = start_stub(delay=0.3)
    group = processes(inference)
    group.start_api(free_port())
    first = group.start_worker("w1")
    with group.client() as client:
        job_id = client.post("/v1/evaluations", json=request()).json()["id"]
    deadline = time.monotonic() + 60
    while len(stored(group, job_id, "generations")) < 5:
        assert time.monotonic() < deadline, "generation never started"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    done_at_kill = len(stored(group, job_id, "generations"))
    assert done_at_kill < ITEMS * len(CANDIDATES), "the kill came too late to test anything"
    group.start_worker("w2")
    job = group.wait_finished(job_id, timeout=180)
    assert job["status"] == "succeeded", job
    generations = stored(group, job_id, "generations")
    assert generations == sorted(f"{c}/i{i:05d}.json" for c in ("c0", "c1") for i in range(ITEMS))
    assert len(stored(group, job_id, "judgements")) == 2 * ITEMS
    calls = stub_calls(inference)
    # A generation in flight when the worker died is asked again (at most one per worker thread);
    # nothing else is repeated.
    repeated = calls["base"] + calls["tuned"] - ITEMS * len(CANDIDATES)
    assert 0 <= repeated <= 2, calls
    assert calls["judge-stub"] == 2 * ITEMS, calls
    report = json.loads(
        (group.store_dir / "evaluations" / job_id / "report" / "report.json").read_text()
    )
    assert report["comparisons"][0]["judge"]["pairs"] == ITEMS
    assert [c["generations"] for c in report["candidates"]] == [ITEMS, ITEMS]
