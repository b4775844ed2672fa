"""The jobs of the three services as rows of one list: what each row shows (status, progress
per stage, age) and whether it may be cancelled, computed from the services' public JSON."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .backends import KINDS, BackendError, Backends, Kind

FINISHED = {"succeeded", "failed", "cancelled"}


@dataclass(frozen=True)
class StageBar:
    name: str
    done: int
    total: int | None

    @property
    def percent(self) -> int:
        if not self.total:
            return 0
        return max(0, min(100, round(100 * self.done / self.total)))


@dataclass(frozen=True)
class JobRow:
    kind: Kind
    id: str
    title: str
    status: str
    cancelling: bool
    stages: list[StageBar]
    created_at: str
    age: str
    url: str
    can_cancel: bool
    error: str | None = None


@dataclass
class JobListing:
    rows: list[JobRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unconfigured: list[str] = field(default_factory=list)  # services with no URL set


def ago(timestamp: str | None, now: datetime | None = None) -> str:
    """'12 s ago', '5 min ago', '3 h ago', '2 d ago' for an ISO timestamp."""
    if not timestamp:
        return ""
    try:
        then = datetime.fromisoformat(timestamp)
    except ValueError:
        return ""
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = max(0.0, ((now or datetime.now(UTC)) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def detail_url(kind: Kind, job_id: str) -> str:
    return {
        "evaluation": f"/ui/evaluations/{job_id}",
        "audit": f"/ui/audits/{job_id}",
        "training": f"/ui/training-jobs/{job_id}",
    }[kind]


def _title(kind: Kind, job: dict[str, Any]) -> str:
    request = job.get("request") or {}
    if kind == "evaluation":
        names = request.get("candidates") or []
        baseline = request.get("baseline") or (names[0] if names else None)
        others = [n for n in names if n != baseline]
        return f"{', '.join(others) or '—'} vs {baseline}" if baseline else "evaluation"
    if kind == "audit":
        if request.get("gate"):
            return "training data, gated"
        return "model answers" if request.get("answers_key") else "training data"
    config = request.get("config") or {}
    return str(config.get("run_name") or "training run")


def _stages(kind: Kind, job: dict[str, Any]) -> list[StageBar]:
    stages = job.get("progress") if kind == "training" else job.get("stages")
    return [
        StageBar(str(name), int(stage.get("done") or 0), stage.get("total"))
        for name, stage in (stages or {}).items()
        if isinstance(stage, dict)
    ]


def job_row(kind: Kind, job: dict[str, Any], *, admin: bool) -> JobRow:
    status = str(job.get("status"))
    cancelling = bool(job.get("cancel_requested_at")) and status not in FINISHED
    # Starting training needs an admin key, and so does stopping it.
    allowed = admin or kind != "training"
    return JobRow(
        kind=kind,
        id=str(job["id"]),
        title=_title(kind, job),
        status=status,
        cancelling=cancelling,
        stages=_stages(kind, job),
        created_at=str(job.get("created_at", "")),
        age=ago(job.get("created_at")),
        url=detail_url(kind, str(job["id"])),
        can_cancel=allowed and status not in FINISHED and not cancelling,
        error=job.get("error"),
    )


async def list_jobs(
    backends: Backends,
    key: str,
    *,
    admin: bool,
    kinds: list[Kind],
    status: str | None,
    limit: int = 50,
) -> JobListing:
    """The newest jobs of every configured service, merged newest first. A service that is not
    configured is left out quietly; one that fails is named in `problems`."""
    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = status
    wanted = [k for k in kinds if backends.base_url(k) is not None]
    missing = [KINDS[k].service for k in kinds if backends.base_url(k) is None]

    async def fetch(kind: Kind) -> tuple[Kind, Any]:
        try:
            return kind, await backends.call(kind, "GET", KINDS[kind].path, key, params=params)
        except BackendError as exc:
            return kind, exc

    listing = JobListing(unconfigured=missing)
    for kind, answer in await asyncio.gather(*(fetch(k) for k in wanted)):
        if isinstance(answer, BackendError):
            listing.problems.append(answer.message)
            continue
        listing.rows.extend(job_row(kind, job, admin=admin) for job in answer.get("data", []))
    listing.rows.sort(key=lambda r: r.created_at, reverse=True)
    listing.rows = listing.rows[:limit]
    return listing
