"""Handoffs between real processes (docs/reliability.md, X2; issue 3's handoff fidelity, fast
version on the tiny model): SIGTERM loses no completed step, SIGKILL at most the checkpoint
interval, and a run resumed in a new process takes the uninterrupted run's LRs and batches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from advisor_shared.bundle import BundleRef, list_versions, read_bundle
from advisor_shared.store import LocalStore
from advisor_trainer.training.session import run_training
from tests.unit.trainer.trainer_testkit import tiny_config

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def start_trainer(
    config_path: Path, store_root: Path, events: Path, *extra: str
) -> subprocess.Popen:
    # The repository first, then whatever the caller's environment puts on the path (packages
    # installed with --target on the GPU machine).
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = {
        **os.environ,
        "ADVISOR_STORE_URL": f"file://{store_root}",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": path,
    }
    command = [
        sys.executable,
        "-c",
        "from advisor_shared.cli import main; main()",
        "train",
        "--config",
        str(config_path),
        "--events",
        str(events),
        *extra,
    ]
    return subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def completed_steps(events: Path) -> list[int]:
    if not events.is_file():
        return []
    lines = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    return [e["step"] for e in lines if e["event"] == "step"]


def wait_for_step(process: subprocess.Popen, events: Path, step: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (completed_steps(events) or [0])[-1] >= step:
            return
        if process.poll() is not None:
            raise AssertionError(f"trainer exited early:\n{process.stdout.read().decode()[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"step {step} not reached in {timeout} s")


def write_config(path: Path, config) -> Path:
    path.write_text(yaml.safe_dump(config.to_dict()))
    return path


@pytest.fixture
def run_config(tiny_model_dir, tiny_dataset, tmp_path):
    # 10 steps per epoch x 4 epochs; small steps so a signal lands mid-run.
    return tiny_config(
        tiny_model_dir,
        tiny_dataset,
        tmp_path / "out",
        num_train_epochs=4,
        gradient_accumulation_steps=1,
        micro_batch_size=2,
    )


def test_sigterm_loses_no_step_and_the_resumed_process_follows_the_uninterrupted_run(
    run_config, tmp_path
) -> None:
    store = LocalStore(tmp_path / "store")
    whole = run_training(run_config.with_overrides(run_name="whole"), store, tmp_path / "cache")

    config = write_config(tmp_path / "split.yaml", run_config.with_overrides(run_name="split"))
    events = tmp_path / "first.jsonl"
    first = start_trainer(config, store.root, events)
    wait_for_step(first, events, 5)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=120) == 0, first.stdout.read().decode()[-3000:]
    (stopped_ref,) = [BundleRef("split", v) for v in list_versions(store, "split")]
    state = read_bundle(store, stopped_ref, tmp_path / "r").trainer_state
    assert state["global_step"] == completed_steps(events)[-1]  # 0 completed steps lost
    assert state["sessions"][0]["stop_reason"] == "stopped by SIGTERM"
    resume_step = state["global_step"]
    assert 5 <= resume_step < whole.ledger.total_steps

    second = start_trainer(config, store.root, tmp_path / "second.jsonl", "--resume", "auto")
    assert second.wait(timeout=300) == 0, second.stdout.read().decode()[-3000:]
    final = read_bundle(store, BundleRef("split"), tmp_path / "r").trainer_state
    assert final["global_step"] == whole.ledger.total_steps
    assert [s["first_step"] for s in final["sessions"]] == [0, resume_step]

    reference = whole.ledger.loss_history
    resumed = final["loss_history"]
    assert [h["lr"] for h in resumed] == [h["lr"] for h in reference]
    assert [h["batch"] for h in resumed] == [h["batch"] for h in reference]
    # Fresh Adam moments after the handoff (the default): the end lands within 2 %.
    assert final["eval_history"][-1]["eval_loss"] == pytest.approx(
        whole.ledger.eval_history[-1]["eval_loss"], rel=0.02
    )


def test_sigkill_loses_at_most_the_checkpoint_interval(run_config, tmp_path) -> None:
    store = LocalStore(tmp_path / "store")
    interval = 4
    config = write_config(
        tmp_path / "killed.yaml",
        run_config.with_overrides(checkpoint_every_steps=interval, checkpoint_async=False),
    )
    events = tmp_path / "killed.jsonl"
    process = start_trainer(config, store.root, events)
    wait_for_step(process, events, 2 * interval + 1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    last_completed = completed_steps(events)[-1]
    committed = read_bundle(store, BundleRef("tiny-run"), tmp_path / "r").trainer_state
    assert committed["global_step"] % interval == 0
    assert 0 <= last_completed - committed["global_step"] <= interval

    resumed = run_training(
        run_config.with_overrides(resume="auto", checkpoint_every_steps=interval),
        store,
        tmp_path / "cache",
    )
    assert resumed.finished
    assert (
        resumed.ledger.sessions[0].stop_reason == "running"
    )  # the killed session never handed over
    assert resumed.ledger.sessions[1].first_step == committed["global_step"]
