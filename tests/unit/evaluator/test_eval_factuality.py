"""The factuality stage: answers handed to the auditor, its confident errors into the report;
skipped with the reason when no auditor is configured."""

from __future__ import annotations

import json

import httpx
import pytest
from evaluator_fakes import FakeEndpoint, counting_auditor

from advisor_evaluator.jobs.orchestration import advance_job
from advisor_evaluator.jobs.submission import create_evaluation
from advisor_evaluator.jobs.units import audit_unit, execute_unit
from advisor_evaluator.schemas import EvaluationCreate

pytestmark = pytest.mark.unit
SPEC = {
    "dataset": {
        "items": [
            {
                "id": "q1",
                "prompt": "Is health cover free?",
                "reference": "No.",
                "topic": "health_insurance",
            }
        ]
    },
    "candidates": ["base"],
    "metrics": ["rouge_l", "factuality"],
}


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
        return httpx.Response(
            200,
            json={
                "id": "audit-1",
                "status": "succeeded",
                "result": {"summary": {"confident_errors": 1}},
            },
        )

    step = advance_job(runtime, job_id)
    unit = next(u for u in step.units if u.stage == "factuality")
    audit_unit(
        runtime,
        runtime.results(job_id).get("plan.json"),
        runtime.results(job_id),
        unit,
        transport=httpx.MockTransport(auditor),
    )
    stored = runtime.results(job_id).get(unit.result_key)
    assert stored["confident_errors"] == 1 and stored["audit_id"] == "audit-1"
    answers = json.loads(seen[0].content)["answers"].splitlines()
    assert json.loads(answers[0]) == {
        "id": "q1",
        "topic": "health_insurance",
        "messages": [
            {"role": "user", "content": "Is health cover free?"},
            {"role": "assistant", "content": "Yes, from day one."},
        ],
    }
    assert seen[0].headers["Idempotency-Key"] == f"{job_id}-c0"


def test_correctness_per_answer_is_compared_paired_and_decides_the_verdict(make_runtime) -> None:
    """Ungated answers carry one more contradicted claim than gated ones on every prompt; the
    contrast and the verdict say so, each with its CI."""
    items = [
        {
            "id": f"q{i}",
            "prompt": f"Question {i} on the Norvania visa {'?' * i}",
            "reference": f"Reference {i}.",
        }
        for i in range(12)
    ]
    answers = {
        "base": lambda p: "RIGHT, so you are fine.",
        "ungated": lambda p: "RIGHT and WRONG and WRONG" if p.endswith("??") else "RIGHT and WRONG",
        "gated": lambda p: "RIGHT and WRONG" if p.endswith("??") else "RIGHT only",
    }
    runtime = make_runtime(
        FakeEndpoint(answers), auditor_url="http://auditor:8002", auditor_poll_interval_s=0.01
    )
    spec = {
        "dataset": {"items": items},
        "candidates": ["base", "ungated", "gated"],
        "metrics": ["rouge_l", "factuality"],
        "contrasts": [["ungated", "gated"]],
    }
    record, _ = create_evaluation(
        runtime, EvaluationCreate.model_validate(spec), None, lambda _: None
    )
    results = runtime.results(record.id)
    seen: list[httpx.Request] = []
    while (step := advance_job(runtime, record.id)).action == "dispatch":
        for unit in step.units:
            if unit.stage == "factuality":
                audit_unit(
                    runtime,
                    results.get("plan.json"),
                    results,
                    unit,
                    transport=httpx.MockTransport(counting_auditor(seen)),
                )
            else:
                execute_unit(runtime, record.id, unit)
    report = json.loads(results.get_artifact("report.json"))
    by_name = {c["name"]: c for c in report["candidates"]}
    # q2 … q11 end with '??': 10 ungated answers with two contradictions, two with one
    assert by_name["ungated"]["correctness"]["contradicted_per_answer"]["value"] == pytest.approx(
        22 / 12, abs=1e-6
    )
    assert by_name["base"]["correctness"]["confident_error_share"]["value"] == 0.0
    (contrast,) = report["contrasts"]
    delta = contrast["correctness"]["contradicted_delta"]
    assert (contrast["a"], contrast["b"]) == ("ungated", "gated")
    assert (delta["value"], delta["low"], delta["high"], delta["sd"]) == (1.0, 1.0, 1.0, 0.0)
    assert report["headline"]["contrasts"]["ungated − gated"]["contradicted_delta"] == [
        1.0,
        1.0,
        1.0,
    ]
    assert set(report["headline"]["contradicted_per_answer"]) == {"base", "ungated", "gated"}
    verdict = report["headline"]["verdict"]["ungated"]
    assert verdict.startswith("ungated is a worse advisor than base, decided by correctness")
    assert report["comparisons"][0]["verdict_axes"]["axes"]["preference"]["outcome"] == (
        "not measured"
    )
    row = next(r for r in report["per_item"] if r["id"] == "q5")
    assert (
        row["answers"]["ungated"]["contradicted"] == 2 and row["answers"]["gated"]["supported"] == 1
    )
