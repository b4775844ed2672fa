"""Wire models of `/v1/audits`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from advisor_shared.errors import InvalidNameError
from advisor_shared.jobs import JobStatus, StageProgress
from advisor_shared.store import validate_key

MAX_INLINE_CHARS = 900_000  # under the 1 MiB body limit, with room for the envelope


class AuditCreate(BaseModel):
    """An audit request: training data and/or model answers, inline JSONL or store keys."""

    model_config = ConfigDict(extra="forbid")
    dataset: str | None = Field(None, max_length=MAX_INLINE_CHARS, description="Dataset JSONL.")
    answers: str | None = Field(
        None,
        max_length=MAX_INLINE_CHARS,
        description="Answers JSONL: {id, prompt, answer, model} or single-turn conversations.",
    )
    dataset_key: str | None = Field(
        None, max_length=1024, description="Object-store key of a dataset."
    )
    answers_key: str | None = Field(
        None, max_length=1024, description="Object-store key of answers."
    )
    sources_prefix: str | None = Field(
        None, max_length=1024, description="Object-store prefix of the corpus (default: server's)."
    )
    sample: int | None = Field(None, ge=1, le=1_000_000, description="Seeded sample size.")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    gate: bool = Field(False, description="Write clean.jsonl and quarantine.jsonl.")

    @field_validator("dataset_key", "answers_key", "sources_prefix")
    @classmethod
    def _plain_keys(cls, value: str | None) -> str | None:
        if not value:
            return value
        try:
            return validate_key(value.rstrip("/"))
        except InvalidNameError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _something_to_audit(self) -> AuditCreate:
        if not (self.dataset or self.dataset_key or self.answers or self.answers_key):
            raise ValueError("give dataset, dataset_key, answers or answers_key")
        if self.dataset and self.dataset_key or self.answers and self.answers_key:
            raise ValueError("give each input inline or by key, not both")
        if self.gate and not (self.dataset or self.dataset_key):
            raise ValueError("gate needs a dataset")
        if self.gate and self.sample is not None:
            raise ValueError("gate audits the whole dataset; drop sample")
        return self


class AuditPublic(BaseModel):
    """Status of an audit job, its progress and, once finished, summary and result links."""

    id: str
    status: JobStatus
    created_at: str
    updated_at: str
    stages: dict[str, StageProgress] = Field(default_factory=dict)
    error: str | None = None
    summary: dict[str, Any] = Field(default_factory=dict)
    # Store keys of the output files (what the evaluator's factuality stage reads).
    links: dict[str, str] = Field(default_factory=dict)
    # The same files over this API: `name → /v1/audits/{id}/files/{name}`.
    files: dict[str, str] = Field(default_factory=dict)
    # Set while a cancel request waits for the chunks in flight (then `cancelled`).
    cancel_requested_at: str | None = None
    # The request as stored (inline inputs replaced by their store keys).
    request: dict[str, Any] = Field(default_factory=dict)
