"""Durable job records shared by the job services (evaluator, auditor, trainer).

A job's status lives in the object store (`jobs/<kind>/<id>.json`), not in Celery's result
backend, so it survives worker death, a Redis restart and result expiry (docs/reliability.md, F14).
`Idempotency-Key` maps to one job: the mapping is reserved with Redis `SET NX` when Redis is
configured (atomic across API replicas) and recorded write-once in the store (durable).
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from .errors import AdvisorError, ObjectExistsError, ObjectNotFoundError
from .store import ObjectStore, validate_key

JOB_ID_PREFIX = {"evaluation": "eval", "audit": "audit", "training": "train"}


class JobNotFoundError(AdvisorError):
    """No job with that id exists."""


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class StageProgress(BaseModel):
    done: int = 0
    total: int | None = None


class JobRecord(BaseModel):
    """What `GET /v1/<jobs>/{id}` returns, and what survives every restart."""

    id: str
    kind: str
    status: JobStatus = JobStatus.QUEUED
    created_at: str
    updated_at: str
    request: dict[str, Any]
    stages: dict[str, StageProgress] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    attempts: int = 0
    heartbeat_at: str | None = None
    # Who submitted it: the key's owner id (`advisor_shared.api.auth.key_owner`), never the key.
    owner: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class JobStore:
    """Create, read and update job records; one instance per process is enough."""

    def __init__(self, store: ObjectStore, redis_client: Any | None = None):
        self.store = store
        self.redis = redis_client
        self._local_lock = threading.Lock()

    @staticmethod
    def _key(kind: str, job_id: str) -> str:
        return validate_key(f"jobs/{kind}/{job_id}.json")

    @staticmethod
    def _idempotency_key(kind: str, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return f"jobs/{kind}-idempotency/{digest}"

    def create(
        self,
        kind: str,
        request: dict[str, Any],
        idempotency_key: str | None = None,
        owner: str | None = None,
    ) -> tuple[JobRecord, bool]:
        """Return (record, created). With a key already used, return that job, created=False."""
        job_id = f"{JOB_ID_PREFIX.get(kind, kind)}-{uuid.uuid4().hex[:16]}"
        if idempotency_key is not None:
            existing = self._claim_idempotency(kind, idempotency_key, job_id)
            if existing is not None:
                return self._wait_for_record(kind, existing), False
        now = _now()
        record = JobRecord(
            id=job_id, kind=kind, created_at=now, updated_at=now, request=request, owner=owner
        )
        self.save(record)
        return record, True

    def _claim_idempotency(self, kind: str, key: str, job_id: str) -> str | None:
        """Reserve `key` for `job_id`; return the id that already holds it, if any."""
        store_key = self._idempotency_key(kind, key)
        if self.store.exists(store_key):
            return self.store.get_bytes(store_key).decode()
        if self.redis is not None:
            redis_key = "advisor:" + store_key
            if not self.redis.set(redis_key, job_id, nx=True, ex=7 * 24 * 3600):
                holder = self.redis.get(redis_key)
                return holder.decode() if isinstance(holder, bytes) else str(holder)
        with self._local_lock:
            try:
                self.store.put_bytes(store_key, job_id.encode())
            except ObjectExistsError:
                return self.store.get_bytes(store_key).decode()
        return None

    def _wait_for_record(self, kind: str, job_id: str, timeout_s: float = 5.0) -> JobRecord:
        """The holder of a key writes its record right after claiming it; wait that moment."""
        deadline = datetime.now(UTC).timestamp() + timeout_s
        while True:
            try:
                return self.get(kind, job_id)
            except JobNotFoundError:
                if datetime.now(UTC).timestamp() > deadline:
                    raise
                threading.Event().wait(0.05)

    def get(self, kind: str, job_id: str) -> JobRecord:
        try:
            raw = self.store.get_bytes(self._key(kind, job_id))
        except (ObjectNotFoundError, AdvisorError):
            raise JobNotFoundError(f"no {kind} job {job_id[:80]!r}") from None
        return JobRecord.model_validate_json(raw)

    def save(self, record: JobRecord) -> None:
        record.updated_at = _now()
        self.store.put_bytes(
            self._key(record.kind, record.id), record.model_dump_json().encode(), overwrite=True
        )

    def update(self, kind: str, job_id: str, **changes: Any) -> JobRecord:
        record = self.get(kind, job_id)
        updated = record.model_copy(update=changes)
        self.save(updated)
        return updated

    def set_stage(self, kind: str, job_id: str, stage: str, done: int, total: int | None) -> None:
        record = self.get(kind, job_id)
        record.stages[stage] = StageProgress(done=done, total=total)
        record.heartbeat_at = _now()
        self.save(record)

    def list(self, kind: str) -> list[JobRecord]:
        records = []
        for key in self.store.list(f"jobs/{kind}/"):
            if key.endswith(".json"):
                records.append(JobRecord.model_validate(json.loads(self.store.get_bytes(key))))
        return records
