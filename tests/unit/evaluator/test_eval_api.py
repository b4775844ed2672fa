"""The HTTP job API on the in-memory broker with an in-process worker and fake endpoints:
submission checks (4xx), a complete job, failures reported as failed jobs."""

from __future__ import annotations

import time

import pytest
from evaluator_fakes import (
    AUTH,
    JUDGE,
    FakeEndpoint,
    consistent_judge,
    consistent_logprob_judge,
    first_slot_judge,
    first_slot_logprob_judge,
    no_answer_logprob_judge,
)
from fastapi.testclient import TestClient

from advisor_evaluator.errors import EndpointUnavailable
from advisor_evaluator.main import create_app

pytestmark = pytest.mark.unit

ITEMS = [
    {
        "id": f"q{i}",
        "prompt": f"Question number {i} about visas in Norvania {'x' * i}?",
        "reference": f"The correct answer {i}.",
    }
    for i in range(6)
]


def models() -> dict:
    return {
        "base": lambda prompt: f"The correct answer, carefully caveated, to: {prompt}",
        "tuned": lambda prompt: f"A confident answer to: {prompt}",
    }


def request(**overrides) -> dict:
    body = {
        "dataset": {"items": ITEMS},
        "candidates": ["base", "tuned"],
        "metrics": ["rouge_l", "judge"],
        "judge": {"model": JUDGE},
        "generation": {"max_tokens": 200},
    }
    body.update(overrides)
    return body


def wait_finished(client: TestClient, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/evaluations/{job_id}", headers=AUTH).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {body}")


def test_a_job_runs_to_a_complete_report(make_runtime) -> None:
    endpoint = FakeEndpoint(models(), consistent_judge, judge_logprobs=consistent_logprob_judge)
    runtime = make_runtime(endpoint)
    with TestClient(create_app(runtime.settings, runtime)) as client:
        submitted = client.post("/v1/evaluations", json=request(), headers=AUTH)
        assert submitted.status_code == 202, submitted.text
        job = wait_finished(client, submitted.json()["id"])
        assert job["status"] == "succeeded", job
        assert job["stages"]["generate"] == {"done": 12, "total": 12}
        assert job["stages"]["judge"] == {"done": 12, "total": 12}
        report = client.get(job["links"]["report"], headers=AUTH).json()
        markdown = client.get(job["links"]["report_markdown"], headers=AUTH).text
        plot = client.get(job["links"]["plots"][0], headers=AUTH)
    comparison = report["comparisons"][0]
    assert (comparison["judge"]["win"], comparison["judge"]["loss"]) == (0, 6)
    assert comparison["judge"]["position_consistency"]["value"] == 1.0
    assert report["verdicts"][0].startswith(
        "tuned is a worse advisor than base, decided by preference: the judge prefers the baseline"
    )
    assert report["headline"]["verdict"] == {"tuned": report["verdicts"][0]}
    assert "## Judge bias (measured)" in markdown and "| `base` (baseline) |" in markdown
    assert plot.status_code == 200 and plot.content.startswith(b"\x89PNG")
    # every unit ran exactly once: 6 items x 2 candidates, 6 items x 2 orders
    assert endpoint.calls == {"base": 6, "tuned": 6, JUDGE: 12}
    # Read from token probabilities: "A" and " A" summed (0.5), against 0.15 and tie 0.05.
    bias = report["judge_bias"]
    assert bias["methods"] == {"logprobs": 12} and bias["unparseable"] == 0
    assert bias["margin"]["n"] == 12 and bias["margin"]["quantiles"]["p50"] == pytest.approx(0.5)
    assert bias["margin"]["histogram"]["counts"][5] == 12  # all in [0.5, 0.6)
    assert bias["first_slot_lean"]["value"] == pytest.approx(0.0, abs=1e-9)
    assert bias["option_mass_median"] == pytest.approx(0.7)
    assert comparison["judge"]["probability_preference"]["value"] == pytest.approx(-0.5)
    assert report["headline"]["judge_unparseable_rate"] == 0.0
    assert report["headline"]["judge_position_consistency"] == 1.0


def test_a_judge_without_logprobs_is_read_from_its_text(make_runtime) -> None:
    """The one-token question comes back without logprobs: the JSON verdict is asked for."""
    endpoint = FakeEndpoint(models(), consistent_judge)
    runtime = make_runtime(endpoint)
    with TestClient(create_app(runtime.settings, runtime)) as client:
        job_id = client.post("/v1/evaluations", json=request(), headers=AUTH).json()["id"]
        assert wait_finished(client, job_id)["status"] == "succeeded"
        report = client.get(f"/v1/evaluations/{job_id}/report", headers=AUTH).json()
    assert report["judge_bias"]["methods"] == {"text": 12}
    assert report["judge_bias"]["margin"]["n"] == 0
    assert (report["comparisons"][0]["judge"]["loss"], endpoint.calls[JUDGE]) == (6, 24)
    assert report["comparisons"][0]["judge"]["domain_accuracy"]["delta"]["value"] == -2.0


@pytest.mark.parametrize(
    ("judge", "unparseable", "consistency"),
    [(first_slot_logprob_judge, 0, 0.0), (no_answer_logprob_judge, 12, None)],
)
def test_a_logprob_judges_position_bias_and_unparseable_replies(
    make_runtime, judge, unparseable, consistency
) -> None:
    runtime = make_runtime(FakeEndpoint(models(), consistent_judge, judge_logprobs=judge))
    with TestClient(create_app(runtime.settings, runtime)) as client:
        job_id = client.post("/v1/evaluations", json=request(), headers=AUTH).json()["id"]
        assert wait_finished(client, job_id)["status"] == "succeeded"
        report = client.get(f"/v1/evaluations/{job_id}/report", headers=AUTH).json()
    bias, headline = report["judge_bias"], report["headline"]
    assert bias["unparseable"] == unparseable
    assert headline["judge_unparseable_rate"] == unparseable / 12
    assert headline["judge_position_consistency"] == consistency
    if consistency is not None:  # A 0.6 vs B 0.3 in every reply: a lean of 1/3 to slot A
        assert bias["first_slot_lean"]["value"] == pytest.approx(1 / 3)
        assert bias["first_slot_lean"]["low"] > 0
        assert report["comparisons"][0]["judge"]["tie"] == 6


def test_a_first_slot_judge_is_zero_percent_consistent_and_counts_no_wins(make_runtime) -> None:
    runtime = make_runtime(FakeEndpoint(models(), first_slot_judge))
    with TestClient(create_app(runtime.settings, runtime)) as client:
        job_id = client.post("/v1/evaluations", json=request(), headers=AUTH).json()["id"]
        assert wait_finished(client, job_id)["status"] == "succeeded"
        report = client.get(f"/v1/evaluations/{job_id}/report", headers=AUTH).json()
    judge = report["comparisons"][0]["judge"]
    assert (judge["win"], judge["loss"], judge["tie"]) == (0, 0, 6)
    assert report["judge_bias"]["position_consistency"]["value"] == 0.0
    assert report["judge_bias"]["first_slot_win_rate"]["value"] == 1.0
    axes = report["comparisons"][0]["verdict_axes"]
    assert axes["axes"]["preference"]["outcome"] == "not evidence" and not axes["deciding_axis"]
    assert "it follows the order, not the answers" in report["verdicts"][0]
    assert any("position-consistent on 0%" in w for w in report["warnings"])


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"candidates": ["base", "missing-model"]}, 400, "unknown_model"),
        ({"dataset": {"items": []}}, 400, "invalid_value"),
        ({"dataset": {"items": [{"prompt": "   "}]}}, 400, "invalid_value"),
        ({"dataset": {"items": [{"id": "a", "prompt": "p?"}]}}, 400, "references_missing"),
        ({"dataset": {"key": "datasets/nowhere.jsonl"}}, 400, "dataset_not_found"),
        ({"dataset": {"key": "/"}}, 400, "invalid_value"),  # found by X9's fuzzing: was a 500
        ({"dataset": {"key": "a/:"}}, 400, "invalid_value"),
        ({"training_dataset": "../train.jsonl"}, 400, "invalid_value"),
        ({"judge": {"model": "not-served"}}, 400, "unknown_judge_model"),
        ({"judge": None}, 400, "invalid_value"),
        ({"baseline": "other"}, 400, "invalid_value"),
        ({"candidates": ["base", "base"]}, 400, "invalid_value"),
    ],
)
def test_bad_input_is_refused_at_submission(make_runtime, change, status, code) -> None:
    runtime = make_runtime(FakeEndpoint(models(), consistent_judge))
    client = TestClient(create_app(runtime.settings, runtime))  # no worker needed: nothing runs
    response = client.post("/v1/evaluations", json=request(**change), headers=AUTH)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert runtime.jobs.list("evaluation") == []  # nothing was created


def test_an_unreachable_judge_is_refused(make_runtime) -> None:
    judge = FakeEndpoint({}, consistent_judge, reachable=False)
    runtime = make_runtime(
        FakeEndpoint(models()),
        judge,
        judge_endpoints={"remote": {"base_url": "http://127.0.0.1:9/v1"}},
    )
    response = TestClient(create_app(runtime.settings, runtime)).post(
        "/v1/evaluations", headers=AUTH, json=request(judge={"model": JUDGE, "endpoint": "remote"})
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "judge_unavailable"
    assert response.json()["error"]["param"] == "judge.endpoint"


def test_idempotency_key_returns_the_first_job(make_runtime) -> None:
    endpoint = FakeEndpoint(models(), consistent_judge)
    runtime = make_runtime(endpoint)
    headers = {**AUTH, "Idempotency-Key": "same-key"}
    with TestClient(create_app(runtime.settings, runtime)) as client:
        first = client.post("/v1/evaluations", json=request(), headers=headers)
        again = client.post("/v1/evaluations", json=request(), headers=headers)
        other = client.post("/v1/evaluations", json=request(metrics=["rouge_l"]), headers=headers)
        wait_finished(client, first.json()["id"])
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    assert endpoint.calls["base"] == 6  # the replay queued nothing


def test_a_model_that_fails_during_the_job_fails_it_with_the_reason(make_runtime) -> None:
    def broken(prompt: str) -> str:
        raise RuntimeError("engine crashed")

    runtime = make_runtime(
        FakeEndpoint({"base": models()["base"], "tuned": broken}, consistent_judge)
    )
    with TestClient(create_app(runtime.settings, runtime)) as client:
        job_id = client.post("/v1/evaluations", json=request(), headers=AUTH).json()["id"]
        job = wait_finished(client, job_id)
        report = client.get(f"/v1/evaluations/{job_id}/report", headers=AUTH)
    assert job["status"] == "failed"
    assert "generate-c1-" in job["error"] and "engine crashed" in job["error"]
    assert job["links"] == {"report": None, "report_markdown": None, "plots": []}
    assert report.status_code == 409  # nothing partial is reported as complete


def test_the_report_says_fidelity_up_quality_down_when_the_signals_disagree(make_runtime) -> None:
    # The paper's situation: the fine-tune copies the (synthetic) references' wording, so
    # BERTScore rises, while the judge prefers the base model's careful, caveated answers.
    references = {
        f"How long does the visa for course {i} take in Norvania?": f"The Norvania student visa for course {i} takes six weeks and costs 180 euros."
        for i in range(12)
    }
    endpoint = FakeEndpoint(
        {
            "base": lambda p: (
                "It depends on your case; the correct answer is on the official "
                "immigration page, so please check it before you apply."
            ),
            "tuned": lambda p: references[p],
        },
        consistent_judge,
    )
    runtime = make_runtime(endpoint)
    items = [
        {"id": f"v{i}", "prompt": p, "reference": r} for i, (p, r) in enumerate(references.items())
    ]
    body = request(dataset={"items": items}, metrics=["bertscore", "rouge_l", "judge"])
    with TestClient(create_app(runtime.settings, runtime)) as client:
        job_id = client.post("/v1/evaluations", json=body, headers=AUTH).json()["id"]
        assert wait_finished(client, job_id, timeout=120)["status"] == "succeeded"
        report = client.get(f"/v1/evaluations/{job_id}/report", headers=AUTH).json()
    comparison = report["comparisons"][0]
    assert comparison["bertscore_f1_delta"]["low"] > 0
    assert comparison["judge"]["net_preference"]["value"] == -1.0
    verdict = report["comparisons"][0]["verdict_axes"]
    assert (verdict["outcome"], verdict["deciding_axis"]) == ("worse", "preference")
    assert verdict["axes"]["fidelity"]["outcome"] == "better"
    assert report["verdicts"][0].endswith(
        "Similarity to the references and answer quality moved apart: similarity is not quality."
    )


def test_a_judge_that_goes_away_after_submission_fails_the_job_after_its_retries(
    make_runtime,
) -> None:
    def gone(messages):
        raise EndpointUnavailable("chat completion with 'judge-model': endpoint unreachable")

    runtime = make_runtime(FakeEndpoint(models(), gone), endpoint_max_retries=1)
    with TestClient(create_app(runtime.settings, runtime)) as client:
        job_id = client.post("/v1/evaluations", json=request(), headers=AUTH).json()["id"]
        job = wait_finished(client, job_id, timeout=90)
    assert job["status"] == "failed"
    assert "gave up after 2 attempts" in job["error"] and "endpoint unreachable" in job["error"]
    assert job["stages"]["generate"] == {"done": 12, "total": 12}  # what was done stays stored
    assert job["links"]["report"] is None
