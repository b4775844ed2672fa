"""Finding 5: the trainer API accepted any base model (`/etc`, any hub repo, on a worker with
outbound network and the hub token), any size (1e12 steps) and, with no dataset named, a path
resolved against the worker's working directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.integration.reliability.services import AUTH, trainer_app

pytestmark = pytest.mark.integration

GOOD = {
    "run_name": "bounded",
    "base_model": "smollm2-135m-instruct",
    "dataset": "tiny.jsonl",
    "max_steps": 1,
}


@pytest.fixture
def client(tmp_path: Path):
    models = tmp_path / "models"
    (models / "mine").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    with TestClient(trainer_app(tmp_path, trainer_models_dir=models)) as client:
        yield client


def post(client: TestClient, config: dict, **request: object):
    return client.post("/v1/training-jobs", headers=AUTH, json={"config": config, **request})


@pytest.mark.parametrize(
    "base_model", ["/etc", "someone/any-hub-repo", "../elsewhere", "models/../elsewhere", ""]
)
def test_a_base_model_outside_the_allow_list_is_refused(client, base_model: str) -> None:
    response = post(client, {**GOOD, "base_model": base_model})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "config.base_model"


def test_allowed_base_models_are_accepted(client, tmp_path: Path) -> None:
    for base_model in (
        "smollm2-135m-instruct",
        "mistralai/Mistral-7B-Instruct-v0.3",
        "mine",
        str(tmp_path / "models" / "mine"),
    ):
        response = post(client, {**GOOD, "base_model": base_model})
        assert response.status_code == 202, (base_model, response.text)


@pytest.mark.parametrize(
    ("name", "value"), [("max_steps", 10**12), ("micro_batch_size", 100000), ("max_seq_len", 10**8)]
)
def test_sizes_above_their_limits_are_refused_by_name(client, name: str, value: int) -> None:
    response = post(client, {**GOOD, name: value})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == f"config.{name}" and name in error["message"], error


def test_a_session_budget_above_its_limit_is_refused_by_name(client) -> None:
    response = post(client, GOOD, session_budget="99999999999h")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "session_budget"


def test_a_job_without_a_dataset_is_refused(client) -> None:
    response = client.post("/v1/training-jobs", headers=AUTH, json={})
    assert response.status_code == 400, response.text
    assert "config.dataset" in response.json()["error"]["message"]
