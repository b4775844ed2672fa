"""Wire models of the training-jobs API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from advisor_shared.jobs import JobRecord, JobStatus


class TrainingJobCreate(BaseModel):
    """`POST /v1/training-jobs`: job config fields plus this session's budget and resume."""

    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Training job config fields (see `advisor train --help-config`); "
        "`dataset` is a path under the service's data folder.",
        max_length=100,
    )
    session_budget: str | None = Field(None, max_length=32, examples=["5h30m"])
    deadline: str | None = Field(None, max_length=64, examples=["2026-12-01T18:00:00Z"])
    resume: str | None = Field(None, max_length=200, examples=["auto", "advisor@v0003"])


class LossPoint(BaseModel):
    """One optimizer step of the run: its loss, LR and gradient norm, and the session (0, 1,
    ...) that ran it."""

    step: int
    loss: float
    lr: float
    grad_norm: float | None = None
    session: int


class EvalPoint(BaseModel):
    step: int
    eval_loss: float
    session: int


class TrainingHistory(BaseModel):
    """The run's curve as the ledger of `bundle` (the job's last committed bundle) has it."""

    bundle: str | None = Field(
        default=None, description="the bundle whose ledger the curve is read from"
    )
    loss: list[LossPoint] = Field(default_factory=list)
    eval: list[EvalPoint] = Field(default_factory=list)
    error: str | None = None


class TrainingJobPublic(BaseModel):
    """What `GET /v1/training-jobs/{id}` returns."""

    id: str
    status: JobStatus
    created_at: str
    updated_at: str
    request: dict[str, Any]
    progress: dict[str, dict[str, int | None]]
    result: dict[str, Any]
    error: str | None
    attempts: int
    history: TrainingHistory = Field(
        default_factory=TrainingHistory,
        description="loss per step (step, loss, lr, session) and eval loss, from the ledger "
        "of the last committed bundle; only on GET of one job",
    )
    # Set while a cancel request waits for the run to reach its next step (then `cancelled`).
    cancel_requested_at: str | None = None

    @classmethod
    def from_record(
        cls, record: JobRecord, history: TrainingHistory | None = None
    ) -> TrainingJobPublic:
        return cls(
            id=record.id,
            status=record.status,
            created_at=record.created_at,
            updated_at=record.updated_at,
            request=record.request,
            progress={name: stage.model_dump() for name, stage in record.stages.items()},
            result=record.result,
            error=record.error,
            attempts=record.attempts,
            history=history or TrainingHistory(),
            cancel_requested_at=record.cancel_requested_at,
        )
