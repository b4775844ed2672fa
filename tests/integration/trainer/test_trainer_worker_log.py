"""A training job on the deployed path: the API queues it on Redis, a real Celery worker process
of `trainer-long` runs it, the worker's log shows loss, LR, tokens/s and ETA as it goes and
the session's peak memory at the end, and `GET /v1/training-jobs/{id}` returns the loss
history (step, loss, LR, session) read from the run's ledger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from advisor_shared.bundle import BundleRef, read_bundle
from advisor_shared.store import LocalStore
from advisor_trainer.core.config import Settings
from advisor_trainer.main import create_app
from tests.conftest import REPO
from tests.unit.trainer.trainer_testkit import write_dataset

pytestmark = pytest.mark.integration
KEY = "trainer-log-key-7c1d"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def env(tmp_path: Path, redis_url: str, tiny_model_dir: Path) -> dict[str, str]:
    write_dataset(tmp_path / "data" / "tiny.jsonl")
    return {
        "ADVISOR_ENVIRONMENT": "test",
        "ADVISOR_REDIS_URL": redis_url,
        "ADVISOR_STORE_URL": f"file://{tmp_path / 'store'}",
        "ADVISOR_API_KEYS": KEY,
        "ADVISOR_ADMIN_API_KEYS": KEY,
        "ADVISOR_TRAINER_DATA_DIR": str(tmp_path / "data"),
        "ADVISOR_TRAINER_OUTPUT_DIR": str(tmp_path / "work"),
        "ADVISOR_TRAINER_MODELS_DIR": str(tiny_model_dir.parent),
        "ADVISOR_CACHE_DIR": str(tmp_path / "cache"),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",
        # Every step logged, so that the short run shows several lines.
        "ADVISOR_TRAINER_LOG_INTERVAL_S": "0",
    }


@pytest.fixture
def worker_log(env: dict[str, str], tmp_path: Path):
    """The compose worker's command, its output going to a file as `docker compose logs` reads."""
    log = tmp_path / "worker.log"
    with open(log, "w") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "advisor_trainer.worker",
                "worker",
                "-Q",
                "trainer-long",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--pool",
                "solo",
            ],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    yield log
    process.terminate()
    process.wait(timeout=30)


def test_the_worker_logs_the_loss_and_the_api_returns_the_history(
    env, worker_log, tiny_model_dir, monkeypatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    body = {
        "config": {
            "run_name": "watched",
            "base_model": str(tiny_model_dir),
            "dataset": "tiny.jsonl",
            "max_seq_len": 96,
            "max_steps": 4,
            "lora_r": 4,
            "lora_alpha": 8,
            "gradient_checkpointing": False,
            "budget_margin_s": 0.0,
            "checkpoint_every_steps": 2,
            "checkpoint_async": False,
        }
    }
    with TestClient(create_app(Settings())) as client:
        job = client.post("/v1/training-jobs", json=body, headers=AUTH).json()
        deadline = time.monotonic() + 240
        while True:
            status = client.get(f"/v1/training-jobs/{job['id']}", headers=AUTH).json()
            if status["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    text = worker_log.read_text()
    assert status["status"] == "succeeded", (status, text[-3000:])
    history = status["history"]
    assert history["bundle"] == "watched@v0002" and history["error"] is None
    assert [(p["step"], p["session"]) for p in history["loss"]] == [(1, 0), (2, 0), (3, 0), (4, 0)]
    ledger = read_bundle(
        LocalStore(Path(env["ADVISOR_STORE_URL"].removeprefix("file://"))),
        BundleRef("watched", "v0002"),
        worker_log.parent / "read",
    ).trainer_state
    assert [(p["loss"], p["lr"]) for p in history["loss"]] == [
        (h["loss"], h["lr"]) for h in ledger["loss_history"]
    ]
    assert [e["step"] for e in history["eval"]] == [4]
    # The worker's log, as `docker compose logs trainer-worker` shows it.
    steps = [line for line in text.splitlines() if f"job {job['id']}: step " in line]
    assert len(steps) == 4, text[-3000:]
    for line, point in zip(steps, history["loss"], strict=True):
        assert f"loss {point['loss']:.4f} lr {point['lr']:.2e}" in line
        assert " tok/s ETA " in line and " epoch " in line
    assert f"job {job['id']}: bundle watched@v0001 at step 2" in text
    assert f"job {job['id']}: finished at step 4/4" in text and "GB resident (CPU)" in text
    assert json.dumps(status["result"]["bundle"]) == '"watched@v0002"'
