"""`/v1/audits`: submit an audit job, read its status."""

from __future__ import annotations

from fastapi import APIRouter, Header, Request, Response

from advisor_shared.api import ApiError, request_owner
from advisor_shared.errors import AdvisorError
from advisor_shared.jobs import JobNotFoundError, JobRecord, JobStatus

from ...audit_jobs import JOB_KIND, store_input
from ...schemas import AuditCreate, AuditPublic
from ..deps import CeleryDep, RuntimeDep

router = APIRouter(prefix="/v1/audits", tags=["audits"])


def _public(record: JobRecord) -> AuditPublic:
    done = record.status is JobStatus.SUCCEEDED
    return AuditPublic(
        id=record.id, status=record.status, created_at=record.created_at,
        updated_at=record.updated_at, stages=record.stages, error=record.error,
        summary=record.result.get("summary", {}) if done else {},
        links=record.result.get("links", {}) if done else {},
    )  # fmt: skip


@router.post("", status_code=202, response_model=AuditPublic)
def submit_audit(
    http_request: Request,
    body: AuditCreate,
    runtime: RuntimeDep,
    celery: CeleryDep,
    response: Response,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=200),
) -> AuditPublic:
    """Queue an audit; a repeated Idempotency-Key returns the first job."""
    request = body.model_dump(exclude={"dataset", "answers"}, exclude_none=True)
    try:
        if body.dataset:
            request["dataset_key"] = store_input(runtime.store, body.dataset)
        if body.answers:
            request["answers_key"] = store_input(runtime.store, body.answers)
        record, created = runtime.jobs.create(
            JOB_KIND, request, idempotency_key, owner=request_owner(http_request)
        )
    except AdvisorError as exc:
        raise ApiError(400, str(exc)[:300], code="invalid_input") from None
    if created or record.status is JobStatus.QUEUED:
        # A replay of a job still queued re-sends its plan task: planning is idempotent, and
        # this recovers a job whose first send was lost between record and queue.
        celery.send_task("auditor.plan", args=[record.id], queue="auditor")
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/audits/{record.id}"
    return _public(record)


@router.get("/{job_id}", response_model=AuditPublic)
def get_audit(job_id: str, runtime: RuntimeDep) -> AuditPublic:
    """Status, progress, and (once succeeded) the summary and result links."""
    try:
        return _public(runtime.jobs.get(JOB_KIND, job_id))
    except JobNotFoundError:
        raise ApiError(404, f"no audit {job_id[:80]!r}", code="not_found") from None
