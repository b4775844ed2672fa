"""Drive one evaluation forward by one step, from what the store holds.

`advance_job` is called at submission, at the end of every round (a chord body) and by the
reconciler. It decides, from stored results alone, whether to prepare the plan, dispatch the
missing units of the next round, write the report, or fail the job with the units' reasons. Only
this step writes the job record, and the caller holds a lease on it, so record updates never race.

Calling it twice is harmless: units already stored are not dispatched, nor are units in flight
(a worker holds their lease); a unit dispatched twice runs once, because it takes that lease and
checks for its result first. So the reconciler may re-drive any job at any time (`recover=True`
only counts the attempt), and a chord body that fires late or twice changes nothing.

A cancel request (`JobStore.request_cancel`) is seen here first: nothing more is dispatched, and
the job is recorded `cancelled` once no unit of it is in flight. A unit checks the request after
taking its lease, so a unit that starts after this step looked at the leases finds the request
and stores nothing: no result is written after the job is recorded cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from advisor_shared.jobs import JobNotFoundError, JobRecord, JobStatus, StageProgress
from advisor_shared.lease import lease_held

from ..errors import EvaluationInputError
from ..schemas import EvaluationCreate
from .pipeline import WorkUnit, failure_name, next_round, progress, stored_keys
from .prepare import build_plan
from .reports import read_report, write_report
from .results import JobResults
from .runtime import Runtime
from .submission import JOB_KIND, served_models

Action = Literal["dispatch", "wait", "done", "failed", "stale", "retry", "cancelled"]
MAX_REASONS = 3


@dataclass
class Step:
    action: Action
    units: list[WorkUnit] = field(default_factory=list)
    reason: str | None = None


def result_links(job_id: str, plots: list[str]) -> dict[str, Any]:
    base = f"/v1/evaluations/{job_id}"
    return {
        "report": f"{base}/report",
        "report_markdown": f"{base}/report.md",
        "plots": [f"{base}/artifacts/{name}" for name in plots],
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def fail_job(runtime: Runtime, record: JobRecord, reason: str) -> Step:
    record.status = JobStatus.FAILED
    record.error = reason
    runtime.jobs.save(record)
    return Step("failed", reason=reason)


def _failure_reasons(results: JobResults, keys: set[str]) -> str | None:
    failed = sorted(k for k in keys if k.startswith("failures/"))
    if not failed:
        return None
    reasons = []
    for key in failed[:MAX_REASONS]:
        record = results.get_or_none(key) or {}
        reasons.append(f"{failure_name(key)}: {record.get('reason', 'unknown')}")
    more = f" (and {len(failed) - MAX_REASONS} more)" if len(failed) > MAX_REASONS else ""
    return f"{len(failed)} work unit(s) failed: " + "; ".join(reasons) + more


def ensure_plan(runtime: Runtime, results: JobResults) -> dict[str, Any]:
    """The job's plan, made once; the first writer wins if two steps race."""
    plan = results.get_or_none("plan.json")
    if plan is not None:
        return dict(plan)
    spec = EvaluationCreate.model_validate(results.get("request.json"))
    plan = build_plan(runtime, spec, served_models(runtime))
    results.put_once("plan.json", plan)
    return dict(results.get("plan.json"))


def advance_job(runtime: Runtime, job_id: str, *, recover: bool = False) -> Step:
    """One step of the job (see the module docstring). The caller holds the job's lease."""
    try:
        record = runtime.jobs.get(JOB_KIND, job_id)
    except JobNotFoundError:
        return Step("stale", reason="no such job")
    if record.status.finished:
        return Step("stale", reason=f"job already {record.status.value}")
    results = runtime.results(job_id)
    if runtime.jobs.cancel_requested(JOB_KIND, job_id):
        return settle_cancel(runtime, record, results)
    if not results.exists("request.json"):
        return fail_job(runtime, record, "the job's request was never stored")
    try:
        plan = ensure_plan(runtime, results)
    except EvaluationInputError as exc:
        if exc.status == 503:
            return Step("retry", reason=exc.message)
        return fail_job(runtime, record, exc.message)
    keys = stored_keys(results)
    reasons = _failure_reasons(results, keys)
    if reasons:
        return fail_job(runtime, record, reasons)
    if not plan["items"]:
        return fail_job(runtime, record, "no prompt is left after hygiene")
    record.stages = progress(plan, keys)
    record.heartbeat_at = _now()
    pending = next_round(plan, keys)
    if pending is None:
        report = read_report(results) or write_report(job_id, plan, results)
        record.stages["report"] = StageProgress(done=1, total=1)
        record.status = JobStatus.SUCCEEDED
        record.result = {
            "links": result_links(job_id, report.get("plots", [])),
            "summary": {
                "items": report["items"],
                "verdicts": report["verdicts"],
                "warnings": report["warnings"],
            },
        }
        runtime.jobs.save(record)
        return Step("done")
    _, units = pending
    idle = [u for u in units if not lease_held(runtime.redis, u.lease_name(job_id))]
    record.status = JobStatus.RUNNING
    if recover:
        record.attempts += 1
    runtime.jobs.save(record)
    if not idle:  # all in flight: their chord calls this step again when they finish
        return Step("wait")
    runtime.heartbeat(job_id)
    return Step("dispatch", units=idle)


def settle_cancel(runtime: Runtime, record: JobRecord, results: JobResults) -> Step:
    """Record `cancelled` once none of the job's units is in flight; until then, wait (the
    units' chord, or the watch of a re-drive, calls this step again)."""
    plan = results.get_or_none("plan.json")
    keys = stored_keys(results)
    if plan is not None:
        pending = next_round(plan, keys)
        units = pending[1] if pending is not None else []
        if any(lease_held(runtime.redis, u.lease_name(record.id)) for u in units):
            return Step("wait", reason="cancelling: units in flight")
        record.stages = progress(plan, keys)
    record.status = JobStatus.CANCELLED
    record.error = None
    runtime.jobs.save(record)
    return Step("cancelled")


def live_progress(runtime: Runtime, record: JobRecord) -> dict[str, Any]:
    """Per-stage progress counted from the store (item units never write the record)."""
    if record.status.finished:
        return dict(record.stages)
    results = runtime.results(record.id)
    plan = results.get_or_none("plan.json")
    stages = progress(plan, stored_keys(results))
    if plan is not None:
        stages.setdefault("report", StageProgress(done=0, total=1))
    return dict(stages)
