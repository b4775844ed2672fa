"""What the three job APIs share beyond submit-and-get: a paged listing with a status filter,
and a cancel request.

    GET  /v1/<jobs>?status=running,queued&limit=20&cursor=…   newest first
    POST /v1/<jobs>/{id}/cancel                                 202, the job as it stands

Each service calls these from its own routes and turns records into its own public model.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from ..jobs import JobNotFoundError, JobPage, JobRecord, JobStatus, JobStore, decode_cursor
from .errors import ApiError

MAX_PAGE = 100
T = TypeVar("T")


class JobList(BaseModel, Generic[T]):
    """A page of jobs; pass `next_cursor` as `cursor` for the next one (None: the last)."""

    object: str = "list"
    data: list[T]
    next_cursor: str | None = None
    has_more: bool = False


class ListQuery(BaseModel):
    """The listing's query parameters, validated (a bad one is a 400 naming it)."""

    statuses: set[JobStatus] | None = None
    limit: int = 20
    cursor: str | None = None


def list_query(
    status: Annotated[
        str | None,
        Query(
            max_length=200,
            description="comma-separated: queued, running, succeeded, failed, cancelled",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> ListQuery:
    """A FastAPI dependency: `query: Annotated[ListQuery, Depends(list_query)]`."""
    statuses: set[JobStatus] | None = None
    if status:
        names = [name.strip() for name in status.split(",") if name.strip()]
        known = {s.value for s in JobStatus}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ApiError(
                400,
                f"unknown status {unknown[0][:40]!r}; use one of {', '.join(sorted(known))}",
                param="status",
                code="invalid_value",
            )
        statuses = {JobStatus(name) for name in names}
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except ValueError as exc:
            raise ApiError(400, str(exc), param="cursor", code="invalid_value") from None
    return ListQuery(statuses=statuses, limit=limit, cursor=cursor)


def job_or_404(jobs: JobStore, kind: str, job_id: str, label: str) -> JobRecord:
    """The job with its cancel request, if any; 404 naming `label` for an unknown id."""
    try:
        return jobs.with_cancel(jobs.get(kind, job_id))
    except JobNotFoundError:
        raise ApiError(404, f"no {label} {job_id[:80]!r}", code="not_found") from None


def succeeded_or_409(
    jobs: JobStore, kind: str, job_id: str, label: str, missing: str, code: str
) -> JobRecord:
    """The job if it succeeded; 409 saying what it has not got yet (`missing`) otherwise."""
    record = job_or_404(jobs, kind, job_id, label)
    if record.status is not JobStatus.SUCCEEDED:
        raise ApiError(
            409, f"{label} {job_id} is {record.status.value}; it has no {missing}", code=code
        )
    return record


def page_of(jobs: JobStore, kind: str, query: ListQuery) -> JobPage:
    return jobs.page(kind, statuses=query.statuses, limit=query.limit, cursor=query.cursor)


def request_cancel(jobs: JobStore, kind: str, job_id: str, label: str) -> JobRecord:
    """Store the cancel request of an unfinished job; 404 for an unknown id, 409 for a job that
    already ended (succeeded or failed: nothing to stop); a cancelled job is returned as is."""
    try:
        record = jobs.request_cancel(kind, job_id)
    except JobNotFoundError:
        raise ApiError(404, f"no {label} {job_id[:80]!r}", code="not_found") from None
    if record.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        raise ApiError(
            409,
            f"{label} {job_id} already {record.status.value}; nothing to cancel",
            code="job_finished",
        )
    return record
