"""Cancelling audits and training jobs with real worker processes on real Redis: each stops,
is recorded `cancelled` (never `succeeded`), keeps what it had stored, and writes nothing
afterwards: no chunk or bundle appears once the job is cancelled, and every stored one is whole.
(The evaluation's test is tests/integration/evaluator/test_evaluator_cancel.py.)"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from advisor_shared.queue import redis_client
from tests.conftest import free_port
from tests.integration.cancel_kit import own_redis_url, stored, watch_until
from tests.integration.evaluator.evaluator_processes import wait_http
from tests.process_group import REPO, ProcessGroup
from tests.unit.trainer.trainer_testkit import write_dataset

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
SAMPLE = REPO / "data" / "sample"
KEY = "cancel-test-key-41d7"
AUTH = {"Authorization": f"Bearer {KEY}"}
__all__ = ["own_redis_url"]  # a fixture, used by name


@pytest.fixture
def auditor(tmp_path: Path, own_redis_url: str) -> Iterator[tuple[ProcessGroup, str]]:
    """The auditor API and a worker process (two threads, chunks of 2 conversations)."""
    env = {
        **os.environ,
        "ADVISOR_REDIS_URL": own_redis_url,
        "ADVISOR_STORE_URL": f"file://{tmp_path / 'store'}",
        "ADVISOR_AUDITOR_SOURCES": str(SAMPLE / "sources"),
        "ADVISOR_AUDITOR_CHUNK_SIZE": "2",
        "ADVISOR_API_KEYS": KEY,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    group = ProcessGroup(tmp_path / "auditor", env)
    port = free_port()
    api = group.spawn(
        "api",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "advisor_auditor.main:create_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
    )
    group.spawn(
        "worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "advisor_auditor.worker",
            "worker",
            "--pool=threads",
            "--concurrency=2",
            "--loglevel=WARNING",
            "-Q",
            "auditor",
            "--without-gossip",
            "--without-mingle",
        ],
    )
    wait_http(f"http://127.0.0.1:{port}/healthz", api, group.root / "api.log", timeout=60)
    try:
        yield group, f"http://127.0.0.1:{port}"
    finally:
        group.stop()


def test_an_audit_is_cancelled_between_chunks_and_leaves_no_orphaned_chunk(
    auditor: tuple[ProcessGroup, str], tmp_path: Path
) -> None:
    group, url = auditor
    lines = (SAMPLE / "train.jsonl").read_text().splitlines()[:40]
    store = tmp_path / "store"
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
        job_id = client.post(
            "/v1/audits", json={"dataset": "\n".join(lines) + "\n", "gate": True}
        ).json()["id"]

        def read() -> dict:
            return dict(client.get(f"/v1/audits/{job_id}").json())

        watch_until(read, lambda _: len(stored(store, f"audits/{job_id}/chunks")) >= 1, 180)
        cancel = client.post(f"/v1/audits/{job_id}/cancel")
        assert cancel.status_code == 202, cancel.text
        final, seen = watch_until(
            read, lambda b: b["status"] in ("cancelled", "succeeded", "failed"), 120
        )
        chunks = stored(store, f"audits/{job_id}/chunks")
        time.sleep(4)
        chunks_after = stored(store, f"audits/{job_id}/chunks")
        files = client.get(f"/v1/audits/{job_id}/files/findings.jsonl")
    assert final["status"] == "cancelled" and "succeeded" not in seen, seen
    assert chunks_after == chunks  # no chunk written after `cancelled`
    plan = json.loads((store / f"audits/{job_id}/plan.json").read_bytes())
    assert 1 <= len(chunks) < len(plan["chunks"])
    for key, data in chunks.items():  # every stored chunk is whole: all its items audited
        part, index = Path(key).stem.rsplit("-", 1)
        assert [r["item_id"] for r in json.loads(data)] == plan["parts"][part][int(index)]
    assert final["stages"]["audit"] == {"done": len(chunks), "total": len(plan["chunks"])}
    assert not (store / f"audits/{job_id}/findings.jsonl").exists()
    assert files.status_code == 409


@pytest.fixture
def trainer(
    tmp_path: Path, own_redis_url: str, tiny_model_dir: Path
) -> Iterator[tuple[ProcessGroup, str]]:
    """The trainer API and a worker of the long queue on the tiny model."""
    write_dataset(tmp_path / "data" / "tiny.jsonl", count=48)
    env = {
        **os.environ,
        "ADVISOR_REDIS_URL": own_redis_url,
        "ADVISOR_ENVIRONMENT": "test",
        "ADVISOR_STORE_URL": f"file://{tmp_path / 'store'}",
        "ADVISOR_API_KEYS": KEY,
        "ADVISOR_ADMIN_API_KEYS": KEY,
        "ADVISOR_TRAINER_DATA_DIR": str(tmp_path / "data"),
        "ADVISOR_TRAINER_OUTPUT_DIR": str(tmp_path / "work"),
        "ADVISOR_TRAINER_MODELS_DIR": str(tiny_model_dir.parent),
        "ADVISOR_CACHE_DIR": str(tmp_path / "cache"),
        "HF_HUB_OFFLINE": "1",
    }
    group = ProcessGroup(tmp_path / "trainer", env)
    port = free_port()
    api = group.spawn(
        "api",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "advisor_trainer.main:create_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
    )
    wait_http(f"http://127.0.0.1:{port}/healthz", api, group.root / "api.log", timeout=60)
    try:
        yield group, f"http://127.0.0.1:{port}"
    finally:
        group.stop()


def training_body(model_dir: Path, steps: int) -> dict:
    return {
        "config": {
            "run_name": "cancel-run",
            "base_model": str(model_dir),
            "dataset": "tiny.jsonl",
            "max_seq_len": 96,
            "max_steps": steps,
            "lora_r": 4,
            "lora_alpha": 8,
            "gradient_checkpointing": False,
            "budget_margin_s": 0.0,
            # Only the bundle written at the stop: on an idle host the run passes
            # periodic checkpoints before the cancel lands, and the test reads v0001.
            "checkpoint_every_steps": 0,
        }
    }


def test_a_training_job_stops_at_a_step_boundary_and_keeps_its_bundle(
    trainer: tuple[ProcessGroup, str], tmp_path: Path, tiny_model_dir: Path
) -> None:
    from advisor_shared.bundle import BundleRef, read_bundle
    from advisor_shared.store import LocalStore

    group, url = trainer
    group.spawn(
        "worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "advisor_trainer.worker",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "-Q",
            "trainer-long",
            "--without-gossip",
            "--without-mingle",
        ],
    )
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
        job_id = client.post("/v1/training-jobs", json=training_body(tiny_model_dir, 400)).json()[
            "id"
        ]

        def read() -> dict:
            return dict(client.get(f"/v1/training-jobs/{job_id}").json())

        watch_until(read, lambda b: (b["progress"].get("train") or {}).get("done", 0) >= 2, 180)
        cancel = client.post(f"/v1/training-jobs/{job_id}/cancel")
        assert cancel.status_code == 202, cancel.text
        final, seen = watch_until(
            read, lambda b: b["status"] in ("cancelled", "succeeded", "failed"), 120
        )
    assert final["status"] == "cancelled" and "succeeded" not in seen, (seen, final["error"])
    result = final["result"]
    assert result["bundle"] == "cancel-run@v0001" and not result["finished"]
    assert 2 <= result["global_step"] < result["total_steps"] == 400
    assert result["stop_reason"] == "stopped by cancel request"
    bundle = read_bundle(
        LocalStore(tmp_path / "store"), BundleRef.parse(result["bundle"]), tmp_path / "check"
    )
    assert bundle.trainer_state["global_step"] == result["global_step"]  # verified and whole


def test_a_queued_training_job_is_cancelled_at_once(
    trainer: tuple[ProcessGroup, str], tiny_model_dir: Path, own_redis_url: str
) -> None:
    """No worker consumes the long queue: the API records `cancelled` itself; a worker that
    takes the message later leaves it cancelled and never starts it."""
    group, url = trainer
    queue = redis_client(own_redis_url)
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
        job_id = client.post("/v1/training-jobs", json=training_body(tiny_model_dir, 3)).json()[
            "id"
        ]
        cancel = client.post(f"/v1/training-jobs/{job_id}/cancel")
        assert queue.llen("trainer-long") == 1  # the message waits for a worker
        group.spawn(
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "advisor_trainer.worker",
                "worker",
                "--pool=solo",
                "--loglevel=WARNING",
                "-Q",
                "trainer-long",
                "--without-gossip",
                "--without-mingle",
            ],
        )
        deadline = time.monotonic() + 60
        while queue.llen("trainer-long") and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # the worker runs the task it took
        later = client.get(f"/v1/training-jobs/{job_id}").json()
        finished_again = client.post(f"/v1/training-jobs/{job_id}/cancel")
    assert cancel.status_code == 202 and cancel.json()["status"] == "cancelled"
    assert queue.llen("trainer-long") == 0, "the worker never took the message"
    assert later["status"] == "cancelled" and later["attempts"] == 0
    assert finished_again.status_code == 202
