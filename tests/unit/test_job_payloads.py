"""Typed job payloads: job code reads and writes models, the store keeps the JSON it always had."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from advisor_shared.job_payloads import JobPayloads
from advisor_shared.jobs import JobStore
from advisor_shared.store import LocalStore

pytestmark = pytest.mark.unit


class Request(BaseModel):
    dataset: str
    sample: int | None = None


class Result(BaseModel):
    bundle: str | None = None
    steps: int | None = None


@pytest.fixture
def jobs(tmp_path: Path) -> JobStore:
    return JobStore(LocalStore(tmp_path / "store"))


def stored(jobs: JobStore, kind: str, job_id: str) -> dict:
    return json.loads(jobs.store.get_bytes(f"jobs/{kind}/{job_id}.json"))


def test_a_typed_request_is_stored_as_its_json_and_read_back_as_the_model(jobs: JobStore) -> None:
    kind = JobPayloads("toy", Request, Result)
    record, created = kind.create(jobs, Request(dataset="d.jsonl"))
    assert created and stored(jobs, "toy", record.id)["request"] == {
        "dataset": "d.jsonl",
        "sample": None,
    }
    assert kind.request_of(jobs.get("toy", record.id)) == Request(dataset="d.jsonl")


def test_a_kind_may_store_its_request_without_nulls(jobs: JobStore) -> None:
    kind = JobPayloads("toy", Request, Result, request_nulls=False)
    record, _ = kind.create(jobs, Request(dataset="d.jsonl"))
    assert stored(jobs, "toy", record.id)["request"] == {"dataset": "d.jsonl"}


def test_a_partial_result_is_stored_without_the_fields_still_to_come(jobs: JobStore) -> None:
    kind = JobPayloads("toy", Request, Result)
    record, _ = kind.create(jobs, Request(dataset="d.jsonl"))
    jobs.update("toy", record.id, result=kind.result_json(Result(bundle="run@v0001")))
    assert stored(jobs, "toy", record.id)["result"] == {"bundle": "run@v0001"}
    final = Result(bundle=None, steps=3)  # a field set to None is stored as null
    jobs.update("toy", record.id, result=kind.result_json(final))
    assert stored(jobs, "toy", record.id)["result"] == {"bundle": None, "steps": 3}
    assert kind.result_of(jobs.get("toy", record.id)) == final


def test_a_record_written_as_plain_json_loads_typed(jobs: JobStore) -> None:
    """Records stored before the models existed are read by them unchanged."""
    kind = JobPayloads("toy", Request, Result)
    record, _ = jobs.create("toy", {"dataset": "old.jsonl"})
    assert kind.request_of(record).dataset == "old.jsonl"
    assert kind.result_of(record) == Result()
