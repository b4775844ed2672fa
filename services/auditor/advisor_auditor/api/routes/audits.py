"""`/v1/audits`: submit an audit job, list and read jobs, cancel one, and read a finished
audit's files, findings and the source documents its findings cite."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from advisor_shared.api import ApiError, request_owner
from advisor_shared.api.job_listing import (
    JobList,
    ListQuery,
    job_or_404,
    list_query,
    page_of,
    request_cancel,
    succeeded_or_409,
)
from advisor_shared.errors import AdvisorError
from advisor_shared.jobs import JobRecord, JobStatus

from ...jobs.audit import store_input
from ...jobs.payloads import AUDIT, JOB_KIND, AuditRequest
from ...outputs import (
    MEDIA_TYPES,
    FindingPage,
    SourceDocument,
    file_links,
    findings_page,
    read_file,
    source_document,
)
from ...runtime import QUEUE, Runtime
from ...schemas import AuditCreate, AuditPublic
from ..deps import CeleryDep, RuntimeDep

router = APIRouter(prefix="/v1/audits", tags=["audits"])


def _public(record: JobRecord) -> AuditPublic:
    done = record.status is JobStatus.SUCCEEDED
    result = AUDIT.result_of(record)
    return AuditPublic(
        id=record.id,
        status=record.status,
        created_at=record.created_at,
        updated_at=record.updated_at,
        stages=record.stages,
        error=record.error,
        summary=result.summary if done else {},
        links=result.links if done else {},
        files=file_links(record.id, record) if done else {},
        cancel_requested_at=record.cancel_requested_at,
        request=record.request,
    )


def audit_request(body: AuditCreate, runtime: Runtime) -> AuditRequest:
    """The request as the job stores it: inline inputs are stored first and named by key."""
    fields = body.model_dump(exclude={"dataset", "answers"})
    if body.dataset:
        fields["dataset_key"] = store_input(runtime.store, body.dataset)
    if body.answers:
        fields["answers_key"] = store_input(runtime.store, body.answers)
    return AuditRequest.model_validate(fields)


def _record(runtime: Runtime, job_id: str) -> JobRecord:
    return job_or_404(runtime.jobs, JOB_KIND, job_id, "audit")


def _succeeded(runtime: Runtime, job_id: str) -> JobRecord:
    return succeeded_or_409(runtime.jobs, JOB_KIND, job_id, "audit", "outputs", "not_ready")


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
    try:
        record, created = AUDIT.create(
            runtime.jobs,
            audit_request(body, runtime),
            idempotency_key,
            owner=request_owner(http_request),
        )
    except AdvisorError as exc:
        raise ApiError(400, str(exc)[:300], code="invalid_input") from None
    if created or record.status is JobStatus.QUEUED:
        # A replay of a job still queued re-sends its plan task: planning is idempotent, and
        # this recovers a job whose first send was lost between record and queue. Queued work
        # is alive: the reconciler's backstop leaves it to the queue.
        runtime.liveness.heartbeat(runtime.redis, record.id)
        celery.send_task("auditor.plan", args=[record.id], queue=QUEUE)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/audits/{record.id}"
    return _public(record)


@router.get("", response_model=JobList[AuditPublic])
def list_audits(
    runtime: RuntimeDep, query: Annotated[ListQuery, Depends(list_query)]
) -> JobList[AuditPublic]:
    """Audits, newest first; `status` filters (comma-separated), `cursor` pages."""
    page = page_of(runtime.jobs, JOB_KIND, query)
    return JobList[AuditPublic](
        data=[_public(r) for r in page.records],
        next_cursor=page.next_cursor,
        has_more=page.next_cursor is not None,
    )


@router.get("/{job_id}", response_model=AuditPublic)
def get_audit(job_id: str, runtime: RuntimeDep) -> AuditPublic:
    """Status, progress, and (once succeeded) the summary and result links."""
    return _public(_record(runtime, job_id))


@router.post("/{job_id}/cancel", status_code=202, response_model=AuditPublic)
def cancel_audit(job_id: str, runtime: RuntimeDep, celery: CeleryDep) -> AuditPublic:
    """Stop a queued or running audit: chunks not started are skipped, chunks in flight finish
    and keep their results, and the job is `cancelled` once none is left
    (`cancel_requested_at` is set until then). 409 for an audit that already ended."""
    record = request_cancel(runtime.jobs, JOB_KIND, job_id, "audit")
    if not record.status.finished:
        celery.send_task("auditor.finalize", args=[job_id], kwargs={"watch": True}, queue=QUEUE)
    return _public(record)


@router.get("/{job_id}/files/{name}")
def get_file(job_id: str, name: str, runtime: RuntimeDep) -> Response:
    """An output file of a finished audit: findings, summary, report, clean and quarantine
    sets, lineage (the names in `files`)."""
    record = _succeeded(runtime, job_id)
    data = read_file(runtime, record, name)
    if data is None:
        raise ApiError(404, f"audit {job_id} has no file {name[:80]!r}", code="not_found")
    return Response(data, media_type=MEDIA_TYPES[name])


@router.get("/{job_id}/findings", response_model=FindingPage)
def get_findings(
    job_id: str,
    runtime: RuntimeDep,
    part: Literal["data", "answers"] | None = None,
    verdict: Literal["supported", "contradicted", "unverifiable"] | None = None,
    item: Annotated[list[str] | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=12, pattern=r"^[0-9]+$")] = None,
) -> FindingPage:
    """A page of the audit's findings (each claim with its verdict, evidence and checks);
    `part` picks the training data or the model answers (default: whichever the audit has,
    answers first), `verdict` and `item` (repeatable) filter."""
    record = _succeeded(runtime, job_id)
    parts: list[Literal["data", "answers"]] = [part] if part else ["answers", "data"]
    for chosen in parts:
        page = findings_page(
            runtime,
            record,
            chosen,
            verdict=verdict,
            items=set(item or []),
            limit=limit,
            offset=int(cursor or 0),
        )
        if page is not None:
            return page
    raise ApiError(404, f"audit {job_id} has no {part or 'findings'} findings", code="not_found")


@router.get("/{job_id}/sources/{path:path}", response_model=SourceDocument)
def get_source(job_id: str, path: str, runtime: RuntimeDep) -> SourceDocument:
    """A document of the corpus the audit verified against, as it is now: a finding's evidence
    `start`/`end` index its `text`."""
    record = _record(runtime, job_id)
    try:
        document = source_document(runtime, AUDIT.request_of(record), path)
    except AdvisorError as exc:
        raise ApiError(
            409, f"the audit's corpus cannot be read: {str(exc)[:200]}", code="corpus_unavailable"
        ) from None
    if document is None:
        raise ApiError(404, f"the audit's corpus has no document {path[:120]!r}", code="not_found")
    return document
