"""`/v1/evaluations`: submit a job, read its status, fetch its report and plots."""

from __future__ import annotations

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from advisor_shared.api import ApiError, request_owner
from advisor_shared.errors import ObjectNotFoundError
from advisor_shared.jobs import JobNotFoundError, JobRecord, JobStatus

from ...errors import EvaluationInputError
from ...orchestration import live_progress
from ...report_plots import PLOTS
from ...report_writer import read_report
from ...results import REPORT_MARKDOWN
from ...runtime import Runtime
from ...schemas import EvaluationCreate, EvaluationPublic, ResultLinks
from ...submission import JOB_KIND, create_evaluation
from ..deps import MetricsDep, RuntimeDep, TasksDep

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
    )


def _record(runtime: Runtime, job_id: str) -> JobRecord:
    try:
        return runtime.jobs.get(JOB_KIND, job_id)
    except JobNotFoundError:
        raise ApiError(404, f"no evaluation {job_id[:80]!r}", code="not_found") from None


def _succeeded(runtime: Runtime, job_id: str) -> JobRecord:
    record = _record(runtime, job_id)
    if record.status is not JobStatus.SUCCEEDED:
        raise ApiError(409, f"evaluation {job_id} is {record.status.value}; it has no report",
                       code="report_not_ready")  # fmt: skip
    return record


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


@router.get("/{job_id}", response_model=EvaluationPublic)
def get_evaluation(job_id: str, runtime: RuntimeDep) -> EvaluationPublic:
    """Status, per-stage progress and result links."""
    return _public(runtime, _record(runtime, job_id))


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
    _succeeded(runtime, job_id)
    if name not in PLOTS:
        raise ApiError(404, f"no artifact {name[:80]!r}", code="not_found")
    try:
        data = runtime.results(job_id).get_artifact(name)
    except ObjectNotFoundError:
        raise ApiError(404, f"evaluation {job_id} has no {name}", code="not_found") from None
    return Response(data, media_type="image/png")
