"""Cancelling an audit: the API stores the request (`JobStore.request_cancel`); the worker's
steps see it and stop; `settle_cancel` records `cancelled` once no chunk is in flight.

A chunk checks the request after taking its lease, and this check looks at the leases after
the request was stored, so a chunk either finishes (and writes its whole result) before the job
is recorded cancelled, or never starts: no chunk is written after `cancelled`, and none is
written half.
"""

from __future__ import annotations

from typing import Literal

from advisor_shared.jobs import StageProgress
from advisor_shared.lease import lease_held

from ..runtime import Runtime
from .audit import chunk_key, chunk_lease_name, job_key
from .payloads import JOB_KIND, AuditPlan

Settlement = Literal["cancelled", "waiting", "finished"]


def cancel_requested(runtime: Runtime, job_id: str) -> bool:
    return runtime.jobs.cancel_requested(JOB_KIND, job_id)


def settle_cancel(runtime: Runtime, job_id: str) -> Settlement:
    """Record `cancelled` when no chunk of the job is in flight; `waiting` otherwise."""
    record = runtime.jobs.get(JOB_KIND, job_id)
    if record.status.finished:
        return "finished"
    store = runtime.store
    plan_key = job_key(job_id, "plan.json")
    stages = dict(record.stages)
    if store.exists(plan_key):
        chunks = AuditPlan.model_validate_json(store.get_bytes(plan_key)).chunks
        if any(lease_held(runtime.redis, chunk_lease_name(job_id, p, i)) for p, i in chunks):
            return "waiting"
        done = sum(store.exists(chunk_key(job_id, p, i)) for p, i in chunks)
        stages["audit"] = StageProgress(done=done, total=len(chunks))
    runtime.jobs.mark_cancelled(JOB_KIND, job_id, stages=stages, error=None)
    return "cancelled"
