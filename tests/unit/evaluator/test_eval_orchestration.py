"""`advance_job` step by step: plan, dispatch, skip what is stored or in flight, fail with the
units' reasons, report when everything is stored."""

from __future__ import annotations

import pytest
from evaluator_fakes import JUDGE, FakeEndpoint, consistent_judge, consistent_logprob_judge

from advisor_evaluator.jobs.orchestration import advance_job
from advisor_evaluator.jobs.pipeline import WorkUnit
from advisor_evaluator.jobs.submission import JOB_KIND, create_evaluation
from advisor_evaluator.jobs.units import execute_unit, record_failure
from advisor_evaluator.schemas import EvaluationCreate
from advisor_shared.jobs import JobStatus
from advisor_shared.lease import Lease

pytestmark = pytest.mark.unit

SPEC = {
    "dataset": {
        "items": [
            {"id": "a", "prompt": "Is the visa fee refundable in Norvania?", "reference": "No."},
            {
                "id": "b",
                "prompt": "When is the scholarship deadline at Eastmarch?",
                "reference": "May.",
            },
            {"id": "c", "prompt": "is the visa fee  refundable in Norvania?", "reference": "No."},
        ]
    },
    "candidates": ["base", "tuned"],
    "metrics": ["rouge_l", "judge"],
    "judge": {"model": JUDGE},
}


@pytest.fixture
def job(make_runtime):
    endpoint = FakeEndpoint(
        {"base": lambda p: f"correct: {p}", "tuned": lambda p: f"sure: {p}"},
        consistent_judge,
        judge_logprobs=consistent_logprob_judge,
    )
    runtime = make_runtime(endpoint)
    record, _ = create_evaluation(
        runtime, EvaluationCreate.model_validate(SPEC), None, lambda _: None
    )
    return runtime, record.id, endpoint


def run_all(runtime, job_id: str, units: list[WorkUnit]) -> None:
    for unit in units:
        execute_unit(runtime, job_id, unit)


def test_steps_from_plan_to_report(job) -> None:
    runtime, job_id, endpoint = job
    step = advance_job(runtime, job_id)
    assert step.action == "dispatch"
    plan = runtime.results(job_id).get("plan.json")
    assert [i["id"] for i in plan["items"]] == ["a", "b"]  # "c" is an exact duplicate of "a"
    assert sorted(u.name for u in step.units) == [
        "generate-c0-i00000",
        "generate-c0-i00001",
        "generate-c1-i00000",
        "generate-c1-i00001",
    ]
    assert runtime.jobs.get(JOB_KIND, job_id).status is JobStatus.RUNNING
    run_all(runtime, job_id, step.units[:3])
    again = advance_job(runtime, job_id, recover=True)
    assert [u.name for u in again.units] == ["generate-c1-i00001"]  # stored units are skipped
    run_all(runtime, job_id, again.units)
    scoring = advance_job(runtime, job_id)
    # scoring runs per candidate in chunks of up to 32 items; judging per item and order
    assert sorted(u.name for u in scoring.units if u.stage == "score") == [
        "score-c0-chunk0000",
        "score-c1-chunk0000",
    ]
    assert sorted(u.stage for u in scoring.units) == ["judge"] * 4 + ["score"] * 2
    with Lease(None, scoring.units[0].lease_name(job_id)):
        in_flight = advance_job(runtime, job_id)
    assert len(in_flight.units) == 5  # the unit whose lease is held is not dispatched again
    run_all(runtime, job_id, scoring.units)
    assert advance_job(runtime, job_id).action == "done"
    record = runtime.jobs.get(JOB_KIND, job_id)
    assert record.status is JobStatus.SUCCEEDED and record.result["links"]["report"].endswith(
        "/report"
    )
    assert advance_job(runtime, job_id).action == "stale"  # a late chord body changes nothing
    assert endpoint.calls == {"base": 2, "tuned": 2, JUDGE: 4}


def test_a_recorded_failure_fails_the_job_with_its_reason(job) -> None:
    runtime, job_id, _ = job
    step = advance_job(runtime, job_id)
    record_failure(runtime, job_id, step.units[0], "EndpointRejected: HTTP 404 (no such model)")
    assert advance_job(runtime, job_id).action == "failed"
    record = runtime.jobs.get(JOB_KIND, job_id)
    assert record.status is JobStatus.FAILED
    assert record.error == (
        "1 work unit(s) failed: generate-c0-i00000: EndpointRejected: HTTP 404 (no such model)"
    )
    assert not runtime.results(job_id).exists("report/report.json")


def test_the_gateway_down_while_planning_is_retried_not_failed(job) -> None:
    runtime, job_id, endpoint = job
    endpoint.reachable = False
    step = advance_job(runtime, job_id)
    assert step.action == "retry" and "does not answer" in (step.reason or "")
    assert runtime.jobs.get(JOB_KIND, job_id).status is JobStatus.QUEUED
