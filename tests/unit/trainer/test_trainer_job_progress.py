"""A training job stops at the next step boundary when its lease is lost."""

from __future__ import annotations

import pytest

from advisor_shared.jobs import JobStore
from advisor_shared.lease import Lease
from advisor_trainer.progress import StepReport
from advisor_trainer.stop_signals import StopRequest
from advisor_trainer.training_jobs import JOB_KIND, JobProgress

pytestmark = pytest.mark.unit


def _report(step: int) -> StepReport:
    return StepReport(step, 10, step / 10, 1.0, 1e-4, 0.3, 100, 1.0, 100.0, 9.0, None)


def test_progress_is_stored_and_a_lost_lease_stops_the_run(local_store) -> None:
    jobs = JobStore(local_store)
    record, _ = jobs.create(JOB_KIND, {})
    stop = StopRequest()
    with Lease(None, f"train:{record.id}") as lease:
        progress = JobProgress(jobs, record.id, lease, stop, interval_s=0.0)
        progress.on_start({"start_step": 0, "total_steps": 10})
        progress.on_step(_report(1))
        assert not stop.requested
        assert jobs.get(JOB_KIND, record.id).stages["train"].done == 1
        lease.held = False  # what the renewer does when Redis no longer has our token
        progress.on_step(_report(2))
    assert stop.requested and stop.reason == "lease lost"
