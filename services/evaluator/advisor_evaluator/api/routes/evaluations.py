"""`/v1/evaluations`: submit a job, list and read jobs, cancel one, fetch its report, plots
and per-sample results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

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
from advisor_shared.errors import ObjectNotFoundError
from advisor_shared.jobs import JobRecord, JobStatus

from ...errors import EvaluationInputError
from ...jobs.orchestration import live_progress
from ...jobs.reports import read_report
from ...jobs.results import REPORT_MARKDOWN
from ...jobs.runtime import Runtime
from ...jobs.submission import JOB_KIND, create_evaluation
from ...reporting.plots import PLOTS
from ...schemas import EvaluationCreate, EvaluationPublic, ResultLinks
from ..deps import MetricsDep, RuntimeDep, TasksDep
from ..samples import SampleFilter, SamplePage, sample_page

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])


def _public(runtime: Runtime, record: JobRecord) -> EvaluationPublic:
    links = record.result.get("links") if record.status is JobStatus.SUCCEEDED else None
    return EvaluationPublic(
        id=record.id,
        status=record.status,
        created_at=record.created_at,
        updated_at=record.updated_at,
        stages=live_progress(runtime, record),
        error=record.error,
        links=ResultLinks(**links) if links else ResultLinks(),
        summary=record.result.get("summary", {}) if record.status is JobStatus.SUCCEEDED else {},
        cancel_requested_at=record.cancel_requested_at,
        request=record.request,
    )


def _record(runtime: Runtime, job_id: str) -> JobRecord:
    return job_or_404(runtime.jobs, JOB_KIND, job_id, "evaluation")


def _succeeded(runtime: Runtime, job_id: str) -> JobRecord:
    return succeeded_or_409(
        runtime.jobs, JOB_KIND, job_id, "evaluation", "report", "report_not_ready"
    )


@router.post("", status_code=202, response_model=EvaluationPublic)
def submit_evaluation(
    request: Request,
    body: EvaluationCreate,
    runtime: RuntimeDep,
    tasks: TasksDep,
    metrics: MetricsDep,
    response: Response,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=200),
) -> EvaluationPublic:
    """Queue an evaluation; a repeated Idempotency-Key returns the first job."""
    try:
        record, created = create_evaluation(
            runtime, body, idempotency_key, tasks.start, owner=request_owner(request)
        )
    except EvaluationInputError as exc:
        metrics.submissions.labels(outcome=exc.code).inc()
        raise ApiError(exc.status, exc.message, param=exc.param, code=exc.code) from None
    metrics.submissions.labels(outcome="created" if created else "replayed").inc()
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/evaluations/{record.id}"
    return _public(runtime, record)


@router.get("", response_model=JobList[EvaluationPublic])
def list_evaluations(
    runtime: RuntimeDep, query: Annotated[ListQuery, Depends(list_query)]
) -> JobList[EvaluationPublic]:
    """Evaluations, newest first; `status` filters (comma-separated), `cursor` pages."""
    page = page_of(runtime.jobs, JOB_KIND, query)
    return JobList[EvaluationPublic](
        data=[_public(runtime, record) for record in page.records],
        next_cursor=page.next_cursor,
        has_more=page.next_cursor is not None,
    )


@router.get("/{job_id}", response_model=EvaluationPublic)
def get_evaluation(job_id: str, runtime: RuntimeDep) -> EvaluationPublic:
    """Status, per-stage progress and result links."""
    return _public(runtime, _record(runtime, job_id))


@router.post("/{job_id}/cancel", status_code=202, response_model=EvaluationPublic)
def cancel_evaluation(job_id: str, runtime: RuntimeDep, tasks: TasksDep) -> EvaluationPublic:
    """Stop a queued or running evaluation. Nothing more is dispatched; units in flight finish
    and keep their results; the job is `cancelled` once none is left (`cancel_requested_at` is
    set until then). 409 for a job that already succeeded or failed."""
    record = request_cancel(runtime.jobs, JOB_KIND, job_id, "evaluation")
    if not record.status.finished:
        tasks.settle(job_id)
    return _public(runtime, record)


@router.get("/{job_id}/samples", response_model=SamplePage)
def get_samples(
    job_id: str,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=12, pattern=r"^[0-9]+$")] = None,
    topic: Annotated[str | None, Query(max_length=100)] = None,
    disagreement: bool = False,
    confident_error: bool = False,
) -> SamplePage:
    """Each prompt with every candidate's answer, BERTScore and ROUGE-L, the judge's verdict in
    both orders with its margin, and the auditor's contradicted claims with their evidence.
    Filters: `topic`; `disagreement` (the judge contradicts itself across the orders, or its
    verdict and BERTScore point different ways); `confident_error` (an answer with an unhedged
    contradicted claim). A running job shows what is stored so far."""
    _record(runtime, job_id)
    results = runtime.results(job_id)
    plan = results.get_or_none("plan.json")
    if plan is None:
        raise ApiError(
            409, f"evaluation {job_id} has no plan yet; try again shortly", code="not_ready"
        )
    keep = SampleFilter(topic=topic, disagreement=disagreement, confident_error=confident_error)
    return sample_page(plan, results, keep, limit, int(cursor or 0))


@router.get("/{job_id}/report")
def get_report(job_id: str, runtime: RuntimeDep) -> JSONResponse:
    """The report as JSON (only for a succeeded job)."""
    _succeeded(runtime, job_id)
    report = read_report(runtime.results(job_id))
    if report is None:
        raise ApiError(404, f"evaluation {job_id} has no stored report", code="not_found")
    return JSONResponse(report)


@router.get("/{job_id}/report.md", response_class=PlainTextResponse)
def get_report_markdown(job_id: str, runtime: RuntimeDep) -> PlainTextResponse:
    """The report as Markdown."""
    _succeeded(runtime, job_id)
    try:
        text = runtime.results(job_id).get_artifact(REPORT_MARKDOWN).decode("utf-8")
    except ObjectNotFoundError:
        raise ApiError(404, f"evaluation {job_id} has no stored report", code="not_found") from None
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.get("/{job_id}/artifacts/{name}")
def get_artifact(job_id: str, name: str, runtime: RuntimeDep) -> Response:
    """A report plot (PNG)."""
    return _plot(runtime, job_id, name)


@router.get("/{job_id}/{name}", include_in_schema=False)
def get_report_asset(job_id: str, name: str, runtime: RuntimeDep) -> Response:
    """A plot beside `report.md`: the report links its plots relatively (`deltas.png`), so the
    links work both in the folder `advisor eval --out` writes and when the report is read at
    `/v1/evaluations/{id}/report.md`."""
    return _plot(runtime, job_id, name)


def _plot(runtime: Runtime, job_id: str, name: str) -> Response:
    _succeeded(runtime, job_id)
    if name not in PLOTS:
        raise ApiError(404, f"no artifact {name[:80]!r}", code="not_found")
    try:
        data = runtime.results(job_id).get_artifact(name)
    except ObjectNotFoundError:
        raise ApiError(404, f"evaluation {job_id} has no {name}", code="not_found") from None
    return Response(data, media_type="image/png")
