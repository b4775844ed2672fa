"""Job records beyond create-and-get: the paged listing and the cancel request."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from advisor_shared.jobs import JobRecord, JobStatus, JobStore, decode_cursor, encode_cursor
from advisor_shared.store import LocalStore

pytestmark = pytest.mark.unit


@pytest.fixture
def jobs(tmp_path: Path) -> JobStore:
    return JobStore(LocalStore(tmp_path / "store"))


def create_apart(jobs: JobStore, kind: str, request: dict) -> JobRecord:
    """Records are ordered by their millisecond creation time: keep them a millisecond apart."""
    time.sleep(0.002)
    return jobs.create(kind, request)[0]


def test_pages_run_newest_first_and_do_not_shift_when_jobs_arrive(jobs: JobStore) -> None:
    made = [create_apart(jobs, "evaluation", {"n": i}) for i in range(5)]
    jobs.update("evaluation", made[1].id, status=JobStatus.FAILED)
    first = jobs.page("evaluation", limit=2)
    assert [r.request["n"] for r in first.records] == [4, 3]
    create_apart(jobs, "evaluation", {"n": 5})  # arrives between two page reads
    second = jobs.page("evaluation", limit=2, cursor=first.next_cursor)
    third = jobs.page("evaluation", limit=2, cursor=second.next_cursor)
    assert [r.request["n"] for r in second.records + third.records] == [2, 1, 0]
    assert third.next_cursor is None
    failed = jobs.page("evaluation", statuses={JobStatus.FAILED})
    assert [r.id for r in failed.records] == [made[1].id] and failed.next_cursor is None
    assert jobs.page("audit").records == []


def test_cursors_round_trip_and_garbage_is_refused() -> None:
    assert decode_cursor(encode_cursor("2026-01-01T00:00:00.000+00:00", "eval-1")) == (
        "2026-01-01T00:00:00.000+00:00",
        "eval-1",
    )
    for bad in ("%%%", "bm9waXBl", ""):
        with pytest.raises(ValueError):
            decode_cursor(bad)


def test_a_cancel_request_is_a_marker_the_record_does_not_hold(jobs: JobStore) -> None:
    record, _ = jobs.create("training", {})
    asked = jobs.request_cancel("training", record.id)
    assert asked.cancel_requested_at is not None and asked.status is JobStatus.QUEUED
    # A progress update written after the request does not erase it.
    jobs.set_stage("training", record.id, "train", 3, 10)
    assert jobs.cancel_requested("training", record.id)
    again = jobs.request_cancel("training", record.id)
    assert again.cancel_requested_at == asked.cancel_requested_at  # the first request's time
    done = jobs.mark_cancelled("training", record.id)
    assert done.status is JobStatus.CANCELLED and done.status.finished
    assert done.stages["train"].done == 3  # the progress it stopped at


def test_a_finished_job_keeps_its_status(jobs: JobStore) -> None:
    record, _ = jobs.create("audit", {})
    jobs.update("audit", record.id, status=JobStatus.SUCCEEDED)
    untouched = jobs.request_cancel("audit", record.id)
    assert untouched.status is JobStatus.SUCCEEDED and untouched.cancel_requested_at is None
    assert not jobs.cancel_requested("audit", record.id)
    assert jobs.mark_cancelled("audit", record.id).status is JobStatus.SUCCEEDED
