"""Finding 1: the judge was client input. A job could point the evaluator at any URL, which then
received the evaluator's judge key, the prompts and both answers, and could forge verdicts; the
target's error bodies were echoed and "unreachable" differed from "HTTP nnn" (a port scanner).

Each case runs the evaluator app (production settings) over real HTTP against loopback
listeners that record what reaches them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.integration.reliability.services import AUTH, evaluator_app
from tests.security.listener import listener

pytestmark = pytest.mark.integration

JUDGE_KEY = "judge-secret-4f1d2c9a"
ITEMS = [{"id": "q0", "prompt": "Which visa for Norvania?", "reference": "The student visa."}]


def body(judge: dict) -> dict:
    return {
        "dataset": {"items": ITEMS},
        "candidates": ["base", "tuned"],
        "metrics": ["judge"],
        "judge": judge,
    }


def test_a_judge_url_from_the_request_is_refused_and_never_called(tmp_path: Path) -> None:
    with (
        listener(models=("base", "tuned", "judge-model")) as gateway,
        listener() as target,
    ):
        app = evaluator_app(
            tmp_path,
            inference_url=gateway.url,
            judge_endpoints={"remote": {"base_url": "http://127.0.0.1:9/v1", "api_key": JUDGE_KEY}},
        )
        with TestClient(app) as client:
            response = client.post(
                "/v1/evaluations",
                headers=AUTH,
                json=body({"model": "judge-model", "base_url": target.url}),
            )
    assert response.status_code == 400, response.text
    assert "judge.base_url is not accepted" in response.json()["error"]["message"]
    assert target.requests == []  # nothing, not even `GET /models` with the key, reached it


def test_an_unconfigured_endpoint_name_is_a_400_naming_the_configured_ones(tmp_path: Path) -> None:
    with listener(models=("base", "tuned")) as gateway:
        app = evaluator_app(
            tmp_path,
            inference_url=gateway.url,
            judge_endpoints={"remote": {"base_url": "http://127.0.0.1:9/v1"}},
        )
        with TestClient(app) as client:
            response = client.post(
                "/v1/evaluations",
                headers=AUTH,
                json=body({"model": "judge-model", "endpoint": "other"}),
            )
            runtime = app.state.runtime
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "unknown_judge_endpoint", error
    assert "remote" in error["message"]
    # Only the inference API's client was ever built: clients exist for configured URLs only.
    assert [url for url, _ in runtime._endpoints] == [gateway.url]


def test_endpoint_failures_are_summarised_alike_and_never_echoed(tmp_path: Path) -> None:
    secret_body = {"error": {"message": "INTERNAL-ADMIN-PAGE root:x:0:0"}}
    with (
        listener(models=("base", "tuned")) as gateway,
        listener(status=500, body=secret_body) as failing,
        listener(status=404, body=secret_body) as refusing,
    ):
        app = evaluator_app(
            tmp_path,
            inference_url=gateway.url,
            judge_endpoints={
                "down": {"base_url": "http://127.0.0.1:9/v1"},
                "failing": {"base_url": failing.url},
                "refusing": {"base_url": refusing.url},
            },
        )
        answers = {}
        with TestClient(app) as client:
            for name in ("down", "failing", "refusing"):
                response = client.post(
                    "/v1/evaluations",
                    headers=AUTH,
                    json=body({"model": "judge-model", "endpoint": name}),
                )
                answers[name] = (response.status_code, response.json()["error"])
    for name, (status, error) in answers.items():
        assert "INTERNAL-ADMIN-PAGE" not in str(error)
        # The same status, code and message whatever lies behind the URL: no port scanner.
        assert (status, error["code"]) == (503, "judge_unavailable"), (name, error)
        assert error["message"] == f"the judge endpoint {name!r} is not available"
