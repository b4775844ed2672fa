"""`/v1/training-jobs`: thin routes over `advisor_trainer.training_jobs`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Request, Response

from advisor_shared.api import ApiError, request_owner, require_admin
from advisor_shared.jobs import JobNotFoundError

from ...errors import TrainerError
from ...loss_history import read_history
from ...schemas import TrainingJobCreate, TrainingJobPublic
from ...training_jobs import JOB_KIND, create_training_job
from ..deps import EnqueueDep, JobsDep, SettingsDep

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
            body.model_dump(),
            idempotency_key,
            enqueue,  # type: ignore[arg-type]
            owner=request_owner(request),
        )
    except TrainerError as exc:
        param = getattr(exc, "param", "config")
        raise ApiError(400, str(exc), param=param, code="invalid_value") from None
    response.headers["Location"] = f"/v1/training-jobs/{record.id}"
    return TrainingJobPublic.from_record(record)


@router.get("/{job_id}", response_model=TrainingJobPublic)
def get_training_job(job_id: str, jobs: JobsDep) -> TrainingJobPublic:
    """Status, progress, result and the loss history of a training job."""
    try:
        record = jobs.get(JOB_KIND, job_id)
    except JobNotFoundError:
        raise ApiError(404, f"no training job {job_id[:80]!r}", code="not_found") from None
    return TrainingJobPublic.from_record(
        record, read_history(jobs.store, record.result.get("bundle"))
    )
