"""Typed job payloads: one kind of job, its request and result as pydantic models.

A job record keeps its request and result as JSON objects (`JobRecord.request`, `.result`): the
shape in the store and in the HTTP responses, which records written long ago still have. Job code
does not read those objects by string key. It asks the kind for its typed models
(`TRAINING.request_of(record)`, `.result_of(record)`) and hands typed models back
(`.request_json(...)`, `.result_json(...)`), so a renamed or misspelt field is a type error or a
validation error at the door, not a KeyError in a worker at the last step of a job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from .jobs import JobRecord, JobStore

RequestT = TypeVar("RequestT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)


@dataclass(frozen=True)
class JobPayloads(Generic[RequestT, ResultT]):
    """The typed request and result of the jobs of one kind (`kind`: "training", "audit", ...).

    `request_nulls`: whether the stored request keeps its unset (None) fields; the auditor has
    always stored its request without them, the trainer with them."""

    kind: str
    request_model: type[RequestT]
    result_model: type[ResultT]
    request_nulls: bool = True

    def request_of(self, record: JobRecord) -> RequestT:
        return self.request_model.model_validate(record.request)

    def result_of(self, record: JobRecord) -> ResultT:
        """The result so far: a field not written yet keeps its model default."""
        return self.result_model.model_validate(record.result)

    def request_json(self, request: RequestT) -> dict[str, Any]:
        """The request as the record stores it: every field, defaults included (but None
        fields without `request_nulls`)."""
        return request.model_dump(mode="json", exclude_none=not self.request_nulls)

    @staticmethod
    def result_json(result: BaseModel) -> dict[str, Any]:
        """The result as the record stores it: only the fields that were set, so a partial
        result (a step's output written before the job ends) is stored without nulls for the
        fields still to come, as it always was."""
        return result.model_dump(mode="json", exclude_unset=True)

    def create(
        self,
        jobs: JobStore,
        request: RequestT,
        idempotency_key: str | None = None,
        owner: str | None = None,
    ) -> tuple[JobRecord, bool]:
        """`JobStore.create` for a typed request."""
        return jobs.create(self.kind, self.request_json(request), idempotency_key, owner=owner)
