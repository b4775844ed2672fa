"""The factuality stage: answers handed to the auditor, its confident errors into the report;
skipped with the reason when no auditor is configured."""

from __future__ import annotations

import json

import httpx
import pytest
from evaluator_fakes import FakeEndpoint

from advisor_evaluator.factuality import audit_unit
from advisor_evaluator.orchestration import advance_job
from advisor_evaluator.schemas import EvaluationCreate
from advisor_evaluator.submission import create_evaluation
from advisor_evaluator.units import execute_unit

pytestmark = pytest.mark.unit
SPEC = {"dataset": {"items": [{"id": "q1", "prompt": "Is health cover free?", "reference": "No.",
                               "topic": "health_insurance"}]},
        "candidates": ["base"], "metrics": ["rouge_l", "factuality"]}  # fmt: skip


def _job(make_runtime, **settings):
    runtime = make_runtime(FakeEndpoint({"base": lambda p: "Yes, from day one."}), **settings)
    record, _ = create_evaluation(
        runtime, EvaluationCreate.model_validate(SPEC), None, lambda _: None
    )
    step = advance_job(runtime, record.id)
    for unit in step.units:
        execute_unit(runtime, record.id, unit)
    return runtime, record.id


def test_without_an_auditor_the_stage_is_skipped_with_the_reason(make_runtime) -> None:
    runtime, job_id = _job(make_runtime)
    plan = runtime.results(job_id).get("plan.json")
    assert "factuality" not in plan["stages"]
    assert (
        plan["skipped"]["factuality"] == "no auditor is configured (ADVISOR_AUDITOR_URL is empty)"
    )


def test_answers_go_to_the_auditor_and_its_confident_errors_are_stored(make_runtime) -> None:
    runtime, job_id = _job(
        make_runtime, auditor_url="http://auditor:8002", auditor_poll_interval_s=0.01
    )
    seen: list[httpx.Request] = []

    def auditor(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(202, json={"id": "audit-1", "status": "queued"})
        return httpx.Response(200, json={"id": "audit-1", "status": "succeeded",
                                         "result": {"summary": {"confident_errors": 1}}})  # fmt: skip

    step = advance_job(runtime, job_id)
    unit = next(u for u in step.units if u.stage == "factuality")
    audit_unit(runtime, runtime.results(job_id).get("plan.json"), runtime.results(job_id), unit,
               transport=httpx.MockTransport(auditor))  # fmt: skip
    stored = runtime.results(job_id).get(unit.result_key)
    assert stored["confident_errors"] == 1 and stored["audit_id"] == "audit-1"
    answers = json.loads(seen[0].content)["answers"].splitlines()
    assert json.loads(answers[0]) == {
        "id": "q1", "topic": "health_insurance",
        "messages": [{"role": "user", "content": "Is health cover free?"},
                     {"role": "assistant", "content": "Yes, from day one."}],
    }  # fmt: skip
    assert seen[0].headers["Idempotency-Key"] == f"{job_id}-c0"
