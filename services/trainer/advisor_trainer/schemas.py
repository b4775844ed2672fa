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

    @classmethod
    def from_record(cls, record: JobRecord) -> TrainingJobPublic:
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
        )
