"""A training job stops at the next step boundary when its lease is lost, and logs its steps
(loss, LR, tokens/s, ETA) and bundles in the worker's log at a bounded interval."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from advisor_shared.jobs import JobStore
from advisor_shared.lease import Lease
from advisor_trainer.jobs.training import JOB_KIND, JobProgress
from advisor_trainer.training.progress import StepReport
from advisor_trainer.training.stop_signals import StopRequest

pytestmark = pytest.mark.unit


def _report(step: int) -> StepReport:
    return StepReport(step, 10, step / 10, 1.0, 1e-4, 0.3, 100, 1.0, 100.0, 9.0, None)


def _info(start_step: int = 0) -> dict[str, Any]:
    return {
        "start_step": start_step,
        "total_steps": 10,
        "run_name": "r",
        "device": "cpu",
        "backend": "cpu-lora",
        "dtype": "float32",
        "trainable_parameters": 1000,
        "train_examples": 20,
        "validation_examples": 2,
        "resumed_from": None,
    }


def test_progress_is_stored_and_a_lost_lease_stops_the_run(local_store) -> None:
    jobs = JobStore(local_store)
    record, _ = jobs.create(JOB_KIND, {})
    stop = StopRequest()
    with Lease(None, f"train:{record.id}") as lease:
        progress = JobProgress(jobs, record.id, lease, stop, interval_s=0.0)
        progress.on_start(_info())
        progress.on_step(_report(1))
        assert not stop.requested
        assert jobs.get(JOB_KIND, record.id).stages["train"].done == 1
        lease.held = False  # what the renewer does when Redis no longer has our token
        progress.on_step(_report(2))
    assert stop.requested and stop.reason == "lease lost"


def test_the_worker_log_has_step_lines_at_an_interval_and_the_bundles(
    local_store, caplog, monkeypatch
) -> None:
    jobs = JobStore(local_store)
    record, _ = jobs.create(JOB_KIND, {})
    clock = iter([0.0, 10.0, 20.0, 31.0, 40.0, 62.0, 70.0, 80.0, 90.0, 95.0])
    monkeypatch.setattr("advisor_trainer.jobs.training.time.monotonic", lambda: next(clock))
    with Lease(None, f"train:{record.id}") as lease, caplog.at_level(logging.INFO):
        progress = JobProgress(jobs, record.id, lease, StopRequest(), log_interval_s=30.0)
        progress.on_start(_info(start_step=2))
        for step in range(3, 11):
            progress.on_step(_report(step))
            if step == 6:
                progress.on_bundle("r@v0002", 6)
    lines = [r.getMessage() for r in caplog.records if r.name == "advisor_trainer.jobs.training"]
    assert lines[0].startswith(
        f"job {record.id}: training r on cpu [cpu-lora, float32] from step 2"
    )
    steps = [line.split(": ", 1)[1] for line in lines if ": step " in line]
    # The first step of the session, then at most one line per 30 s, then the last step.
    assert [s.split()[1] for s in steps] == ["3/10", "6/10", "8/10", "10/10"]
    assert (
        steps[0]
        == "step 3/10 epoch 0.30 loss 1.0000 lr 1.00e-04 100 tok/s ETA 0m09s session left -"
    )
    assert f"job {record.id}: bundle r@v0002 at step 6" in lines
    # The last committed bundle is in the job's result: the loss history is read from it.
    assert jobs.get(JOB_KIND, record.id).result == {"bundle": "r@v0002", "global_step": 6}
