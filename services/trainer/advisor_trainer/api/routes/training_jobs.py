"""`/v1/training-jobs`: thin routes over `advisor_trainer.jobs.training`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response

from advisor_shared.api import ApiError, request_owner, require_admin
from advisor_shared.api.job_listing import JobList, ListQuery, job_or_404, list_query, page_of
from advisor_shared.jobs import JobNotFoundError, JobStatus

from ...errors import TrainerError
from ...jobs.payloads import JOB_KIND, TRAINING
from ...jobs.training import cancel_training_job, create_training_job
from ...loss_history import read_history
from ...schemas import TrainingJobCreate, TrainingJobPublic
from ..deps import EnqueueDep, JobsDep, RedisDep, SettingsDep

router = APIRouter(prefix="/v1/training-jobs", tags=["training-jobs"])


@router.post(
    "", status_code=202, response_model=TrainingJobPublic, dependencies=[Depends(require_admin)]
)
def post_training_job(
    request: Request,
    body: TrainingJobCreate,
    response: Response,
    settings: SettingsDep,
    jobs: JobsDep,
    enqueue: EnqueueDep,
    idempotency_key: str | None = Header(None, max_length=200),
) -> TrainingJobPublic:
    """Queue a training session; the same Idempotency-Key returns the first job."""
    try:
        record, _created = create_training_job(
            jobs,
            settings,
            body,
            idempotency_key,
            enqueue,  # type: ignore[arg-type]
            owner=request_owner(request),
        )
    except TrainerError as exc:
        param = getattr(exc, "param", "config")
        raise ApiError(400, str(exc), param=param, code="invalid_value") from None
    response.headers["Location"] = f"/v1/training-jobs/{record.id}"
    return TrainingJobPublic.from_record(record)


@router.get("", response_model=JobList[TrainingJobPublic])
def list_training_jobs(
    jobs: JobsDep, query: Annotated[ListQuery, Depends(list_query)]
) -> JobList[TrainingJobPublic]:
    """Training jobs, newest first; `status` filters (comma-separated), `cursor` pages."""
    page = page_of(jobs, JOB_KIND, query)
    return JobList[TrainingJobPublic](
        data=[TrainingJobPublic.from_record(r) for r in page.records],
        next_cursor=page.next_cursor,
        has_more=page.next_cursor is not None,
    )


@router.get("/{job_id}", response_model=TrainingJobPublic)
def get_training_job(job_id: str, jobs: JobsDep) -> TrainingJobPublic:
    """Status, progress, result and the loss history of a training job."""
    record = job_or_404(jobs, JOB_KIND, job_id, "training job")
    return TrainingJobPublic.from_record(
        record, read_history(jobs.store, TRAINING.result_of(record).bundle)
    )


@router.post(
    "/{job_id}/cancel",
    status_code=202,
    response_model=TrainingJobPublic,
    dependencies=[Depends(require_admin)],
)
def cancel_training(
    job_id: str, jobs: JobsDep, redis_client: RedisDep, settings: SettingsDep
) -> TrainingJobPublic:
    """Stop a training job (admin key): a run in progress stops at its next step boundary and
    commits the bundle of the steps it completed (resume continues from it); a queued job is
    `cancelled` at once. 409 for a job that already succeeded or failed."""
    try:
        record = cancel_training_job(jobs, redis_client, job_id, settings)
    except JobNotFoundError:
        raise ApiError(404, f"no training job {job_id[:80]!r}", code="not_found") from None
    if record.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        raise ApiError(
            409,
            f"training job {job_id} already {record.status.value}; nothing to cancel",
            code="job_finished",
        )
    return TrainingJobPublic.from_record(record)
