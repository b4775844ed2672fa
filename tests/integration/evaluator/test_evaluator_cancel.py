"""Cancelling an evaluation with real worker processes on real Redis: it stops, is recorded
`cancelled` (never `succeeded`), keeps the answers it had stored, and stores nothing and calls
no endpoint once it is cancelled."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from evaluator_processes import EvaluatorProcesses

from tests.conftest import free_port
from tests.integration.cancel_kit import stored, watch_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_an_evaluation_is_cancelled_mid_job_by_its_workers(processes, start_stub) -> None:
    """A slow endpoint keeps units in flight on two worker threads while the cancel arrives."""
    stub = start_stub(delay=1.5)
    group: EvaluatorProcesses = processes(stub)
    group.start_api(free_port())
    group.start_worker("w1", concurrency=2)
    items = [
        {"id": f"q{i}", "prompt": f"Which permit for case {i}?", "reference": "The visa."}
        for i in range(6)
    ]
    body = {
        "dataset": {"items": items},
        "candidates": ["base", "tuned"],
        "baseline": "base",
        "metrics": ["rouge_l", "judge"],
        "judge": {"model": "judge-stub"},
    }
    with group.client() as client:
        job_id = client.post("/v1/evaluations", json=body).json()["id"]
        results = group.store_dir / "evaluations" / job_id

        def read() -> dict:
            return dict(client.get(f"/v1/evaluations/{job_id}").json())

        watch_until(read, lambda _: len(stored(results, "generations")) >= 2, 90)
        cancel = client.post(f"/v1/evaluations/{job_id}/cancel")
        assert cancel.status_code == 202 and cancel.json()["cancel_requested_at"]
        final, seen = watch_until(
            read, lambda b: b["status"] in ("cancelled", "succeeded", "failed"), 60
        )
        kept = stored(results, "")
        calls = httpx.get(stub.removesuffix("/v1") + "/stats").json()["calls"]
        time.sleep(4)  # anything still running would store its result in this time
        after = stored(results, "")
        calls_after = httpx.get(stub.removesuffix("/v1") + "/stats").json()["calls"]
        report = client.get(f"/v1/evaluations/{job_id}/report")
    assert final["status"] == "cancelled" and "succeeded" not in seen, seen
    assert after == kept and calls_after == calls  # nothing stored or asked after `cancelled`
    generations = [k for k in kept if k.startswith("generations/")]
    assert 2 <= len(generations) < 12  # some work was done, not all of it
    assert all(json.loads(kept[k])["text"] for k in generations)  # every stored answer whole
    assert not any(k.startswith(("failures/", "report/")) for k in kept)
    assert report.status_code == 409
    assert final["stages"]["generate"]["done"] == len(generations)
