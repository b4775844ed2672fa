"""Durable job records shared by the job services (evaluator, auditor, trainer).

A job's status lives in the object store (`jobs/<kind>/<id>.json`), not in Celery's result
backend, so it survives worker death, a Redis restart and result expiry (docs/reliability.md, F14).
`Idempotency-Key` maps to one job: the mapping is reserved with Redis `SET NX` when Redis is
configured (atomic across API replicas) and recorded write-once in the store (durable).

Cancelling is a request, not a write to the record: `request_cancel` stores a write-once marker
(`jobs/<kind>-cancel/<id>.json`) beside the record. The record keeps a single writer (the worker
that owns the job's step), so a cancel can never be lost to, or overwrite, a concurrent progress
update; the owner sees the marker at its next step boundary, stops, and records `cancelled`.
"""

from __future__ import annotations

import base64
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
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


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
    # When a cancel was asked for (from the marker, filled in by `JobStore.with_cancel`).
    cancel_requested_at: str | None = None


class JobPage(BaseModel):
    """One page of a listing, newest first; `next_cursor` continues it (None at the end)."""

    records: list[JobRecord]
    next_cursor: str | None = None


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

    def page(
        self,
        kind: str,
        *,
        statuses: set[JobStatus] | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> JobPage:
        """Jobs of `kind`, newest first, optionally only those in `statuses`.

        The cursor is the (created_at, id) of the last job of the previous page, so a page does
        not shift when new jobs arrive. Every record is read once per call: fine for the
        thousands of jobs one deployment keeps; beyond that an index would be needed."""
        records = sorted(self.list(kind), key=lambda r: (r.created_at, r.id), reverse=True)
        if cursor is not None:
            after = decode_cursor(cursor)
            records = [r for r in records if (r.created_at, r.id) < after]
        if statuses:
            records = [r for r in records if r.status in statuses]
        chosen = [self.with_cancel(r) for r in records[:limit]]
        more = len(records) > limit
        return JobPage(
            records=chosen,
            next_cursor=encode_cursor(chosen[-1].created_at, chosen[-1].id) if more else None,
        )

    # Cancelling (see the module docstring).

    @staticmethod
    def _cancel_key(kind: str, job_id: str) -> str:
        return validate_key(f"jobs/{kind}-cancel/{job_id}.json")

    def request_cancel(self, kind: str, job_id: str) -> JobRecord:
        """Ask the job's owner to stop it; return the record with `cancel_requested_at` set.

        A finished job is returned as it is (nothing to stop). Asking twice keeps the first
        request's time."""
        record = self.get(kind, job_id)
        if record.status.finished:
            return record
        try:
            self.store.put_bytes(
                self._cancel_key(kind, job_id), json.dumps({"requested_at": _now()}).encode()
            )
        except ObjectExistsError:
            pass
        return self.with_cancel(record)

    def cancel_requested(self, kind: str, job_id: str) -> bool:
        return self.store.exists(self._cancel_key(kind, job_id))

    def with_cancel(self, record: JobRecord) -> JobRecord:
        """The record with `cancel_requested_at` read from its marker, if there is one."""
        try:
            raw = self.store.get_bytes(self._cancel_key(record.kind, record.id))
        except ObjectNotFoundError:
            return record
        requested = json.loads(raw).get("requested_at")
        return record.model_copy(update={"cancel_requested_at": requested})

    def mark_cancelled(self, kind: str, job_id: str, **changes: Any) -> JobRecord:
        """Record that the owner stopped the job. Only the job's owner calls this, at a step
        boundary, so no result is written after it; a finished job is left as it is."""
        record = self.get(kind, job_id)
        if record.status.finished:
            return record
        return self.update(kind, job_id, status=JobStatus.CANCELLED, **changes)


def encode_cursor(created_at: str, job_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at}|{job_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The (created_at, id) a cursor names; ValueError for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, _, job_id = base64.urlsafe_b64decode(padded.encode()).decode().partition("|")
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"invalid cursor {cursor[:40]!r}") from None
    if not created_at or not job_id:
        raise ValueError(f"invalid cursor {cursor[:40]!r}")
    return created_at, job_id
