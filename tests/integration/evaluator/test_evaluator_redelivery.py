"""A unit's message redelivered while the unit still runs (docs/reliability.md, F1), with real Redis
and a real worker process: the copy is turned away by the unit lease and leaves no result, so the
round's chord fires once the unit is stored and the job finishes on its own, without waiting for the
reconciler, and the endpoint is called once."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from conftest import stub_calls
from evaluator_processes import EvaluatorProcesses

from advisor_shared.queue import redis_client
from tests.conftest import free_port

pytestmark = pytest.mark.integration
CALL_S = 4.0
# Far beyond the test's wait: a job that stalls is not rescued by the reconciler in time.
STALE_AFTER_S = 300
UNIT = "generate-c0-i00000"
# One item, one candidate: every round is a single unit, so the copy would be its chord's last part.
REQUEST = {
    "dataset": {
        "items": [
            {
                "id": "q0",
                "prompt": "Which visa do I need for Norvania?",
                "reference": "The Norvania student visa.",
            }
        ]
    },
    "candidates": ["base"],
    "metrics": ["rouge_l"],
}


def wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError(what)


def unacked_generation(client: redis.Redis, queue: str, job_id: str) -> dict | None:
    """The un-acked message of the job's generation unit, as kombu keeps it for redelivery."""
    for raw in client.hvals("unacked"):
        payload, _exchange, routing_key = json.loads(raw)
        headers = payload["headers"]
        if (
            routing_key == queue
            and headers["task"] == "evaluator.generate"
            and job_id in (headers.get("argsrepr") or "")
        ):
            return dict(payload)
    return None


def redeliver(client: redis.Redis, queue: str, payload: dict) -> None:
    """What kombu's visibility-timeout restore does: the same message back on its queue."""
    payload["headers"]["redelivered"] = True
    payload["properties"]["delivery_info"]["redelivered"] = True
    client.rpush(queue, json.dumps(payload))


def test_a_redelivered_running_unit_leaves_no_result_and_the_job_advances(
    start_stub, processes, redis_url
) -> None:
    inference = start_stub(delay=CALL_S)
    group: EvaluatorProcesses = processes(inference)
    group.env["ADVISOR_STALE_JOB_AFTER_S"] = str(STALE_AFTER_S)
    queue = group.env["ADVISOR_QUEUE_NAME"]
    group.start_api(free_port())
    # A free thread takes the copy while the unit runs; INFO logs each task's outcome.
    group.start_worker("w1", concurrency=2, loglevel="INFO")
    client = redis_client(redis_url)
    with group.client() as api:
        submitted = api.post("/v1/evaluations", json=REQUEST)
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    lease = f"advisor:lease:evaluator:{job_id}:{UNIT}"
    wait_for(lambda: client.exists(lease), 60, "the generation unit never started")
    payload = wait_for(
        lambda: unacked_generation(client, queue, job_id),
        10,
        "no un-acked message for the running unit",
    )
    redeliver(client, queue, payload)
    started = time.monotonic()
    job = group.wait_finished(job_id, timeout=30 + 2 * CALL_S)
    seconds = time.monotonic() - started
    log = (group.root / "w1.log").read_text()
    task = f"evaluator.generate[{payload['headers']['id']}]"
    assert job["status"] == "succeeded", job
    assert log.count(f"{task} received") == 2, log  # the original and its copy
    assert f"{task} ignored" in log, log  # the copy: turned away, no result, no chord part
    assert "re-driving" not in log, log  # finished by its own chords
    assert seconds < STALE_AFTER_S
    assert stub_calls(inference) == {"base": 1}
