"""The evaluation API beyond submit-and-get, on the in-memory broker with fake endpoints:
listing with paging and status filters, cancelling, per-sample results and report links that
work when the report is read over the API."""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import urljoin

import pytest
from evaluator_fakes import AUTH, JUDGE, FakeEndpoint, consistent_judge, consistent_logprob_judge
from fastapi.testclient import TestClient
from test_eval_api import ITEMS, models, request, wait_finished

from advisor_evaluator.main import create_app

pytestmark = pytest.mark.unit


def wait_status(client: TestClient, job_id: str, wanted: set[str], timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/evaluations/{job_id}", headers=AUTH).json()
        if body["status"] in wanted:
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {wanted}: {body}")


def test_listing_pages_newest_first_and_filters_by_status(make_runtime) -> None:
    runtime = make_runtime(FakeEndpoint(models(), consistent_judge))
    with TestClient(create_app(runtime.settings, runtime)) as client:
        ids = []
        for _ in range(3):
            job = client.post("/v1/evaluations", json=request(metrics=["rouge_l"]), headers=AUTH)
            ids.append(job.json()["id"])
            wait_finished(client, ids[-1])
        first = client.get("/v1/evaluations?limit=2", headers=AUTH).json()
        second = client.get(
            f"/v1/evaluations?limit=2&cursor={first['next_cursor']}", headers=AUTH
        ).json()
        succeeded = client.get("/v1/evaluations?status=succeeded,failed", headers=AUTH).json()
        running = client.get("/v1/evaluations?status=running", headers=AUTH).json()
        bad_status = client.get("/v1/evaluations?status=done", headers=AUTH)
        bad_cursor = client.get("/v1/evaluations?cursor=%%%", headers=AUTH)
    assert [j["id"] for j in first["data"] + second["data"]] == ids[::-1]
    assert first["has_more"] and not second["has_more"] and second["next_cursor"] is None
    assert {j["id"] for j in succeeded["data"]} == set(ids) and running["data"] == []
    assert first["data"][0]["request"]["candidates"] == ["base", "tuned"]
    assert bad_status.status_code == 400 and bad_status.json()["error"]["param"] == "status"
    assert bad_cursor.status_code == 400 and bad_cursor.json()["error"]["param"] == "cursor"


def test_cancel_stops_the_job_and_stores_nothing_after_it(make_runtime) -> None:
    """The first `tuned` answer blocks in flight while the cancel arrives: the job stays
    running until that unit ends, then is `cancelled`; no unit after it stores anything."""
    release, entered = threading.Event(), threading.Event()
    answers = models()

    def slow(prompt: str) -> str:
        entered.set()
        release.wait(20)
        return answers["tuned"](prompt)

    endpoint = FakeEndpoint({"base": answers["base"], "tuned": slow}, consistent_judge)
    runtime = make_runtime(endpoint)
    with TestClient(create_app(runtime.settings, runtime)) as client:
        job_id = client.post("/v1/evaluations", json=request(), headers=AUTH).json()["id"]
        assert entered.wait(20)
        cancelled = client.post(f"/v1/evaluations/{job_id}/cancel", headers=AUTH)
        assert cancelled.status_code == 202, cancelled.text
        assert cancelled.json()["cancel_requested_at"] is not None
        assert client.get(f"/v1/evaluations/{job_id}", headers=AUTH).json()["status"] == "running"
        release.set()
        final = wait_status(client, job_id, {"cancelled", "succeeded", "failed"})
        stored = sorted(runtime.results(job_id).list("generations/"))
        time.sleep(0.5)
        assert sorted(runtime.results(job_id).list("generations/")) == stored
        again = client.post(f"/v1/evaluations/{job_id}/cancel", headers=AUTH)
        report = client.get(f"/v1/evaluations/{job_id}/report", headers=AUTH)
        unknown = client.post("/v1/evaluations/eval-nope/cancel", headers=AUTH)
    assert final["status"] == "cancelled" and final["error"] is None
    # Every base answer came before the blocked one; the blocked one finished and was kept.
    assert len(stored) == len(ITEMS) + 1 and endpoint.calls["tuned"] == 1
    assert runtime.results(job_id).list("judgements/") == []
    assert final["stages"]["generate"] == {"done": len(ITEMS) + 1, "total": 2 * len(ITEMS)}
    assert again.status_code == 202 and again.json()["status"] == "cancelled"
    assert report.status_code == 409 and unknown.status_code == 404


def test_a_finished_job_cannot_be_cancelled(make_runtime) -> None:
    runtime = make_runtime(FakeEndpoint(models(), consistent_judge))
    with TestClient(create_app(runtime.settings, runtime)) as client:
        job_id = client.post(
            "/v1/evaluations", json=request(metrics=["rouge_l"]), headers=AUTH
        ).json()["id"]
        wait_finished(client, job_id)
        refused = client.post(f"/v1/evaluations/{job_id}/cancel", headers=AUTH)
        status = client.get(f"/v1/evaluations/{job_id}", headers=AUTH).json()["status"]
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "job_finished"
    assert status == "succeeded"


def test_samples_show_answers_scores_and_both_verdicts(make_runtime) -> None:
    endpoint = FakeEndpoint(models(), consistent_judge, judge_logprobs=consistent_logprob_judge)
    runtime = make_runtime(endpoint)
    items = [{**item, "topic": "visa" if i % 2 else "fees"} for i, item in enumerate(ITEMS)]
    body = request(dataset={"items": items}, metrics=["rouge_l", "judge"])
    with TestClient(create_app(runtime.settings, runtime)) as client:
        job_id = client.post("/v1/evaluations", json=body, headers=AUTH).json()["id"]
        wait_finished(client, job_id)
        page = client.get(f"/v1/evaluations/{job_id}/samples?limit=4", headers=AUTH).json()
        rest = client.get(
            f"/v1/evaluations/{job_id}/samples?limit=4&cursor={page['next_cursor']}", headers=AUTH
        ).json()
        visa = client.get(f"/v1/evaluations/{job_id}/samples?topic=visa", headers=AUTH).json()
        # The judge agrees with itself in both orders; ROUGE-L is not BERTScore: no disagreement.
        split = client.get(
            f"/v1/evaluations/{job_id}/samples?disagreement=true", headers=AUTH
        ).json()
    assert [r["id"] for r in page["data"] + rest["data"]] == [i["id"] for i in ITEMS]
    assert page["total"] == len(ITEMS) and page["topics"] == ["fees", "visa"]
    assert {r["topic"] for r in visa["data"]} == {"visa"} and visa["total"] == 3
    assert split["total"] == 0
    row = page["data"][0]
    base, tuned = row["answers"]
    assert (base["candidate"], base["role"], tuned["role"]) == ("base", "baseline", "challenger")
    assert base["text"].startswith("The correct answer") and base["rouge_l"] > tuned["rouge_l"]
    assert base["judgement"] is None and tuned["audit"] is None
    judgement = tuned["judgement"]
    assert judgement["result"] == "loss" and judgement["consistent"] is True
    assert [(o["order"], o["preference"], o["prefers"]) for o in judgement["orders"]] == [
        ("ab", "B", "baseline"),
        ("ba", "A", "baseline"),
    ]
    assert all(o["margin"] == pytest.approx(0.5) for o in judgement["orders"])
    assert endpoint.calls[JUDGE] == 2 * len(ITEMS)


def test_report_markdown_links_resolve_over_the_api(make_runtime) -> None:
    runtime = make_runtime(FakeEndpoint(models(), consistent_judge))
    with TestClient(create_app(runtime.settings, runtime)) as client:
        job_id = client.post("/v1/evaluations", json=request(), headers=AUTH).json()["id"]
        links = wait_finished(client, job_id)["links"]
        report_url = f"http://testserver{links['report_markdown']}"
        markdown = client.get(report_url, headers=AUTH).text
        targets = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
        fetched = [client.get(urljoin(report_url, target), headers=AUTH) for target in targets]
        stray = client.get(f"/v1/evaluations/{job_id}/secrets.png", headers=AUTH)
    assert len(targets) >= 3
    assert all(r.status_code == 200 and r.content.startswith(b"\x89PNG") for r in fetched)
    assert stray.status_code == 404
