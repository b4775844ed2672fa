"""The audit job's typed payloads: its request as the record stores it, its plan (`plan.json`)
and its result."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from advisor_shared.job_payloads import JobPayloads

JOB_KIND = "audit"


class AuditRequest(BaseModel):
    """What an audit audits. Inline inputs of the HTTP body are stored first (`store_input`),
    so the record names every input by its object-store key."""

    dataset_key: str | None = None
    answers_key: str | None = None
    sources_prefix: str | None = None
    sample: int | None = None
    seed: int = 0
    gate: bool = False


class AuditResult(BaseModel):
    """A finished audit: the summary of each part (with the headline `confident_errors`) and
    the object-store key of each output file."""

    summary: dict[str, Any] = Field(default_factory=dict)
    links: dict[str, str] = Field(default_factory=dict)


class AuditPlan(BaseModel):
    """The items of each part (`data`, `answers`) cut into chunks of item ids, and every chunk
    as (part, index): stored once, so every run of every step audits the same chunks."""

    parts: dict[str, list[list[str]]]
    chunks: list[tuple[str, int]]


AUDIT = JobPayloads(JOB_KIND, AuditRequest, AuditResult, request_nulls=False)
