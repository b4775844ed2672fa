"""The audit job over HTTP with a real Celery worker process on real Redis: Idempotency-Key,
durable status, deterministic chunk results that a re-run never duplicates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "data" / "sample"

pytestmark = pytest.mark.integration


@pytest.fixture
def auditor_env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    return {
        "ADVISOR_REDIS_URL": redis_url,
        "ADVISOR_STORE_URL": f"file://{tmp_path / 'store'}",
        "ADVISOR_AUDITOR_SOURCES": str(SAMPLE / "sources"),
        "ADVISOR_AUDITOR_CHUNK_SIZE": "4",
        "ADVISOR_API_KEYS": "test-key-123",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


@pytest.fixture
def worker(auditor_env: dict[str, str]):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "advisor_auditor.worker",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "-Q",
            "auditor",
        ],
        env={**os.environ, **auditor_env},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield process
    process.terminate()
    process.wait(timeout=30)


def test_audit_job_runs_on_a_worker_process(auditor_env, worker, monkeypatch) -> None:
    from advisor_auditor.core.config import Settings
    from advisor_auditor.jobs.audit import audit_chunk, chunk_key
    from advisor_auditor.main import create_app
    from advisor_auditor.runtime import Runtime

    for name, value in auditor_env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    lines = (SAMPLE / "test.jsonl").read_text().splitlines()[:10]
    headers = {"Authorization": "Bearer test-key-123", "Idempotency-Key": f"k-{time.time_ns()}"}
    with TestClient(create_app(settings)) as client:
        body = {"dataset": "\n".join(lines) + "\n", "gate": True}
        first = client.post("/v1/audits", json=body, headers=headers)
        assert first.status_code == 202, first.text
        again = client.post("/v1/audits", json=body, headers=headers)
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        job_id = first.json()["id"]
        deadline = time.monotonic() + 240
        while True:
            status = client.get(f"/v1/audits/{job_id}", headers=headers).json()
            if status["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert status["status"] == "succeeded", status
        assert status["stages"]["audit"] == {"done": 3, "total": 3}
        assert status["summary"]["data"]["items_audited"] == 10
        assert set(status["links"]) >= {
            "findings.jsonl",
            "summary.json",
            "report.md",
            "clean.jsonl",
            "quarantine.jsonl",
        }
        unauthorised = client.get(f"/v1/audits/{job_id}")
        assert unauthorised.status_code == 401
        assert client.get("/v1/audits/audit-missing", headers=headers).status_code == 404

    runtime = Runtime.from_settings(settings)
    # Status is durable: a fresh reader sees it from the store, not from Celery's backend.
    assert runtime.jobs.get("audit", job_id).status.value == "succeeded"
    chunk = chunk_key(job_id, "data", 0)
    stored = runtime.store.get_bytes(chunk)
    assert audit_chunk(runtime, job_id, "data", 0) is False  # a redelivered chunk writes nothing
    assert runtime.store.get_bytes(chunk) == stored
    findings = runtime.store.get_bytes(f"audits/{job_id}/findings.jsonl").decode().splitlines()
    ids = [json.loads(line)["claim_id"] for line in findings]
    assert len(ids) == len(set(ids))  # no finding twice


def test_bad_requests_get_the_shared_error_shape(auditor_env, monkeypatch) -> None:
    from advisor_auditor.core.config import Settings
    from advisor_auditor.main import create_app

    for name, value in auditor_env.items():
        monkeypatch.setenv(name, value)
    headers = {"Authorization": "Bearer test-key-123"}
    with TestClient(create_app(Settings())) as client:
        empty = client.post("/v1/audits", json={}, headers=headers)
        assert empty.status_code == 400 and "give dataset" in empty.json()["error"]["message"]
        traversal = client.post(
            "/v1/audits", json={"dataset_key": "../etc/passwd"}, headers=headers
        )
        assert traversal.status_code == 400
        both = client.post("/v1/audits", json={"answers": "x", "gate": True}, headers=headers)
        assert both.status_code == 400
