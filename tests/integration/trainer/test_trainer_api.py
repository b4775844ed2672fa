"""The training-jobs API and the long-queue task: 202 + status, idempotency, keys, bad bodies,
and the lease that keeps a redelivered message from starting a second run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from advisor_shared.jobs import JobStatus, JobStore
from advisor_shared.lease import Lease
from advisor_shared.queue import redis_client
from advisor_shared.store import LocalStore
from advisor_trainer.core.config import Settings
from advisor_trainer.jobs.runtime import Runtime
from advisor_trainer.jobs.training import JOB_KIND, run_training_job
from advisor_trainer.main import create_app
from tests.unit.trainer.trainer_testkit import write_dataset

pytestmark = pytest.mark.integration
KEY = "trainer-test-key-5f2c"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def settings(tmp_path: Path, tiny_model_dir: Path) -> Settings:
    write_dataset(tmp_path / "data" / "tiny.jsonl")
    return Settings(
        environment="test",
        api_keys=[KEY],
        admin_api_keys=[KEY],
        store_url=f"file://{tmp_path}/store",
        trainer_data_dir=tmp_path / "data",
        trainer_output_dir=tmp_path / "work",
        trainer_models_dir=tiny_model_dir.parent,
        cache_dir=tmp_path / "cache",
        redis_url=None,
    )


@pytest.fixture
def job_body(tiny_model_dir: Path) -> dict:
    return {
        "config": {
            "run_name": "api-run",
            "base_model": str(tiny_model_dir),
            "dataset": "tiny.jsonl",
            "max_seq_len": 96,
            "max_steps": 3,
            "lora_r": 4,
            "lora_alpha": 8,
            "gradient_checkpointing": False,
            "budget_margin_s": 0.0,
        },
    }


@pytest.fixture
def queued() -> list[str]:
    return []


@pytest.fixture
def client(settings: Settings, queued: list[str]) -> TestClient:
    return TestClient(create_app(settings, enqueue=queued.append))


def test_post_returns_202_and_get_returns_the_status(client, job_body, queued) -> None:
    response = client.post("/v1/training-jobs", json=job_body, headers=AUTH)
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "queued" and job["id"].startswith("train-")
    assert response.headers["location"] == f"/v1/training-jobs/{job['id']}"
    assert queued == [job["id"]]
    status = client.get(f"/v1/training-jobs/{job['id']}", headers=AUTH)
    assert status.status_code == 200 and status.json()["request"]["config"]["max_steps"] == 3
    missing = client.get("/v1/training-jobs/train-0000000000000000", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_idempotency_key_makes_one_job(client, job_body, queued) -> None:
    headers = {**AUTH, "Idempotency-Key": "train-once-1"}
    first = client.post("/v1/training-jobs", json=job_body, headers=headers).json()
    second = client.post("/v1/training-jobs", json=job_body, headers=headers).json()
    assert first["id"] == second["id"] and queued == [first["id"]]


def test_no_key_is_401(client, job_body) -> None:
    response = client.post("/v1/training-jobs", json=job_body)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert (
        client.get("/v1/training-jobs/x", headers={"Authorization": "Bearer wrong"}).status_code
        == 401
    )
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"config": {"lora_r": 0}}, "lora_r must be >= 1, got 0"),
        ({"config": {"lora_rank": 8}}, "unknown config field 'lora_rank'"),
        (
            {"config": {"dataset": "../../etc/passwd"}},
            "must be a relative path under the data folder",
        ),
        ({"config": {"output_dir": "/tmp"}}, "config.output_dir is set by the service"),
        ({"session_budget": "0s"}, "session budget '0s' is empty"),
        ({"resume": "../x"}, "resume: expected 'auto' or NAME@VERSION"),
        ({"unexpected": 1}, "unexpected: Extra inputs are not permitted"),
    ],
)
def test_bad_bodies_are_400_with_the_reason(client, job_body, queued, change, message) -> None:
    body = {**job_body, **change}
    if "config" in change:
        body["config"] = {**job_body["config"], **change["config"]}
    response = client.post("/v1/training-jobs", json=body, headers=AUTH)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert queued == []


def test_a_job_written_with_a_removed_field_is_still_accepted(client, job_body, queued) -> None:
    body = {**job_body, "config": {**job_body["config"], "flat_optimizer": "on"}}
    with pytest.warns(FutureWarning, match="config field 'flat_optimizer' was removed"):
        response = client.post("/v1/training-jobs", json=body, headers=AUTH)
    assert response.status_code == 202 and queued == [response.json()["id"]]


def test_a_held_lease_makes_a_redelivered_job_return_at_once(settings, job_body, redis_url) -> None:
    client = redis_client(redis_url)
    store = LocalStore(Path(settings.store_url.removeprefix("file://")))
    jobs = JobStore(store, client)
    runtime = Runtime(settings, store, jobs, client)
    record, _ = jobs.create(JOB_KIND, job_body)
    with Lease(client, f"train:{record.id}") as first_delivery:
        assert first_delivery.held
        started = time.monotonic()
        outcome = run_training_job(runtime, record.id)
        assert outcome.status == "skipped" and time.monotonic() - started < 2.0
        assert jobs.get(JOB_KIND, record.id).status is JobStatus.QUEUED
    done = run_training_job(runtime, record.id)
    assert done.status == "succeeded" and done.result.bundle == "api-run@v0001"
    assert jobs.get(JOB_KIND, record.id).stages["train"].done == 3
    again = run_training_job(runtime, record.id)
    assert again.status == "succeeded" and again.reason == "already done"


def test_a_run_is_registered_under_its_lease_and_a_dead_one_is_re_driven(
    settings, job_body, redis_url, monkeypatch
) -> None:
    """docs/reliability.md, F2: while a run holds its lease it keeps the job's heartbeat and an
    entry in the in-flight registry; once the lease is gone with the entry left (its worker
    died), the reconciler re-drives the job."""
    import advisor_trainer.training.session as trainer_module
    from advisor_shared.worker import recover_abandoned
    from advisor_trainer.jobs.runtime import LIVENESS
    from advisor_trainer.jobs.worker import SERVICE

    client = redis_client(redis_url)
    store = LocalStore(Path(settings.store_url.removeprefix("file://")))
    runtime = Runtime(settings, store, JobStore(store, client), client)
    record, _ = runtime.jobs.create(JOB_KIND, job_body)
    seen: dict[str, object] = {}

    def run_training(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        seen["entry"] = client.hgetall(f"advisor:trainer:inflight:{record.id}")
        seen["alive"] = LIVENESS.is_alive(client, record.id)
        raise RuntimeError("the session broke")

    monkeypatch.setattr(trainer_module, "run_training", run_training)
    with pytest.raises(RuntimeError):
        run_training_job(runtime, record.id)
    assert seen == {"entry": {b"train": f"advisor:lease:train:{record.id}".encode()}, "alive": True}
    assert not client.exists(f"advisor:trainer:inflight:{record.id}")  # ended: entry gone
    redriven: list[str] = []
    with LIVENESS.running(client, record.id, "train", f"train:{record.id}"):
        # Registered with no lease behind it: a run whose worker died.
        recover_abandoned(SERVICE.recovery, client, redriven.append)
    assert record.id in redriven


def test_a_job_runs_through_the_long_queue_worker(settings, job_body) -> None:
    """Without Redis the app consumes `trainer-long` on an in-process worker (embedded mode)."""
    with TestClient(create_app(settings)) as client:
        job = client.post("/v1/training-jobs", json=job_body, headers=AUTH).json()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = client.get(f"/v1/training-jobs/{job['id']}", headers=AUTH).json()
            if status["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.5)
    assert status["status"] == "succeeded", status["error"]
    assert status["result"]["bundle"] == "api-run@v0001" and status["result"]["finished"]
    assert status["progress"]["train"] == {"done": 3, "total": 3}


def test_jobs_are_listed_newest_first_with_a_status_filter(client, job_body, queued) -> None:
    ids = []
    for tag in ("a", "b"):
        body = {"config": {**job_body["config"], "run_name": f"run-{tag}"}}
        ids.append(client.post("/v1/training-jobs", json=body, headers=AUTH).json()["id"])
        time.sleep(0.002)
    listed = client.get("/v1/training-jobs", headers=AUTH).json()
    assert [j["id"] for j in listed["data"]] == ids[::-1] and not listed["has_more"]
    assert client.get("/v1/training-jobs?status=running", headers=AUTH).json()["data"] == []
    assert client.get("/v1/training-jobs?status=nope", headers=AUTH).status_code == 400


def test_a_queued_job_is_cancelled_at_once_and_only_by_an_admin(settings, job_body) -> None:
    app_key = "trainer-app-key-77c1"
    with TestClient(
        create_app(
            settings.model_copy(update={"api_keys": [KEY, app_key]}), enqueue=lambda job_id: None
        )
    ) as client:
        job = client.post("/v1/training-jobs", json=job_body, headers=AUTH).json()
        refused = client.post(
            f"/v1/training-jobs/{job['id']}/cancel", headers={"Authorization": f"Bearer {app_key}"}
        )
        cancelled = client.post(f"/v1/training-jobs/{job['id']}/cancel", headers=AUTH)
        unknown = client.post("/v1/training-jobs/train-nope/cancel", headers=AUTH)
    assert refused.status_code == 403
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_requested_at"] is not None
    assert unknown.status_code == 404


def test_a_cancel_stops_a_run_at_a_step_and_keeps_its_bundle(
    settings, job_body, monkeypatch
) -> None:
    """In-process: a job cancelled before it ran never starts; one cancelled at step 2 stops
    there and commits its bundle (worker processes: tests/integration/test_cancel_jobs.py)."""
    from advisor_trainer.jobs.training import CANCEL_REASON, JobProgress

    store = LocalStore(Path(settings.store_url.removeprefix("file://")))
    jobs = JobStore(store, None)
    runtime = Runtime(settings, store, jobs, None)
    body = {"config": {**job_body["config"], "max_steps": 50}}
    early, _ = jobs.create(JOB_KIND, body)
    jobs.request_cancel(JOB_KIND, early.id)
    first = run_training_job(runtime, early.id)
    assert first.status == "cancelled" and first.reason == "cancelled before it ran"
    record, _ = jobs.create(JOB_KIND, body)
    real_on_step = JobProgress.on_step

    def cancel_at_step_two(self, report):  # type: ignore[no-untyped-def]
        if report.step == 2:
            jobs.request_cancel(JOB_KIND, record.id)
            self._last_cancel_check = 0.0  # look now, not in 2 s
        real_on_step(self, report)

    monkeypatch.setattr(JobProgress, "on_step", cancel_at_step_two)
    outcome = run_training_job(runtime, record.id)
    final = jobs.get(JOB_KIND, record.id)
    assert outcome.status == "cancelled" and final.status is JobStatus.CANCELLED
    assert final.result["stop_reason"] == f"stopped by {CANCEL_REASON}"
    assert final.result["global_step"] == 2 and final.result["bundle"] == "api-run@v0001"
