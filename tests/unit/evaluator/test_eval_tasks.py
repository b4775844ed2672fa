"""The unit task's answers to copies of a unit: one in flight elsewhere leaves no result (a chord
counts each task id once, so the holder's own completion must be the one that counts), one
already stored is skipped."""

from __future__ import annotations

import pytest
from celery import states
from evaluator_fakes import FakeEndpoint

from advisor_evaluator.jobs.orchestration import advance_job
from advisor_evaluator.jobs.submission import create_evaluation
from advisor_evaluator.jobs.worker import build_worker
from advisor_evaluator.schemas import EvaluationCreate
from advisor_shared.lease import Lease

pytestmark = pytest.mark.unit

SPEC = {
    "dataset": {
        "items": [{"id": "a", "prompt": "Is the visa fee refundable?", "reference": "No."}]
    },
    "candidates": ["base"],
    "metrics": ["rouge_l"],
}


def test_a_copy_of_a_unit_in_flight_is_ignored_and_a_stored_one_skipped(make_runtime) -> None:
    endpoint = FakeEndpoint({"base": lambda p: f"No: {p}"})
    runtime = make_runtime(endpoint)
    record, _ = create_evaluation(
        runtime, EvaluationCreate.model_validate(SPEC), None, lambda _: None
    )
    (unit,) = advance_job(runtime, record.id).units
    generate = build_worker(runtime.settings, runtime, in_memory=True).tasks.units["generate"]
    with Lease(None, unit.lease_name(record.id)):  # another worker runs the unit
        copy = generate.apply(args=[record.id, unit.to_dict()])
    assert copy.state == states.IGNORED
    assert endpoint.calls == {}
    assert generate.apply(args=[record.id, unit.to_dict()]).get() == "done"
    assert generate.apply(args=[record.id, unit.to_dict()]).get() == "skipped"
    assert endpoint.calls == {"base": 1}
