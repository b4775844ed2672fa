"""What an evaluation still has to do, computed from what is stored — never from memory.

The pipeline runs in rounds, each a group of independent work units followed by one step that
looks at the store again (a Celery chord whose body is `advance`):

    prepare (one step) → generate (candidate × item) →
    score (candidate × chunk of items) + judge (challenger × item × both orders)
    + factuality (candidate)
    → report (one step)

Because the next round is derived from the stored results, a job can be driven again at any time
(after a worker was killed, after a Redis restart) and only the missing units are dispatched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from advisor_shared.jobs import StageProgress

from ..judging.pairwise import ORDERS
from .results import JobResults, factuality_key, generation_key, judgement_key, score_key

UNIT_STAGES = ("generate", "score", "judge", "factuality")
# Reference metrics run in batches: one BERTScore forward pass over 32 pairs costs about what a
# single pair does, and the encoder is the expensive part of scoring.
SCORE_CHUNK = 32
ROUNDS: tuple[tuple[str, ...], ...] = (("generate",), ("score", "judge", "factuality"))


@dataclass(frozen=True)
class WorkUnit:
    """One independent piece of work; its result key is deterministic."""

    stage: str
    candidate: str
    item: str | None = None
    order: str | None = None

    @property
    def name(self) -> str:
        return "-".join(p for p in (self.stage, self.candidate, self.item, self.order) if p)

    @property
    def result_key(self) -> str:
        if self.stage == "generate":
            return generation_key(self.candidate, str(self.item))
        if self.stage == "score":
            return score_key(self.candidate, str(self.item))
        if self.stage == "judge":
            return judgement_key(self.candidate, str(self.item), str(self.order))
        if self.stage == "factuality":
            return factuality_key(self.candidate)
        raise ValueError(f"unknown stage {self.stage!r}")

    def lease_name(self, job_id: str) -> str:
        """The lease a worker holds while it runs this unit (docs/reliability.md, F3)."""
        return f"evaluator:{job_id}:{self.name}"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "stage": self.stage,
            "candidate": self.candidate,
            "item": self.item,
            "order": self.order,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkUnit:
        return cls(data["stage"], data["candidate"], data.get("item"), data.get("order"))


def stage_units(plan: dict[str, Any], stage: str) -> list[WorkUnit]:
    """Every unit of `stage` for this plan (empty when the stage is not part of the job)."""
    if stage not in plan["stages"]:
        return []
    items = [item["key"] for item in plan["items"]]
    candidates = [c["key"] for c in plan["candidates"]]
    if stage == "generate":
        return [WorkUnit(stage, c, i) for c in candidates for i in items]
    if stage == "score":
        chunks = [chunk_name(n) for n in range(0, len(items), SCORE_CHUNK)]
        return [WorkUnit(stage, c, chunk) for c in candidates for chunk in chunks]
    if stage == "judge":
        challengers = [c for c in candidates if c != plan["baseline"]]
        return [WorkUnit(stage, c, i, o) for c in challengers for i in items for o in ORDERS]
    if stage == "factuality":
        return [WorkUnit(stage, c) for c in candidates]
    raise ValueError(f"unknown stage {stage!r}")


def chunk_name(start: int) -> str:
    return f"chunk{start // SCORE_CHUNK:04d}"


def chunk_items(plan: dict[str, Any], chunk: str) -> list[dict[str, Any]]:
    """The items a score unit covers."""
    start = int(chunk.removeprefix("chunk")) * SCORE_CHUNK
    return list(plan["items"][start : start + SCORE_CHUNK])


def plan_item(plan: dict[str, Any], key: str) -> dict[str, Any]:
    return next(item for item in plan["items"] if item["key"] == key)


def plan_candidate(plan: dict[str, Any], key: str) -> dict[str, Any]:
    return next(c for c in plan["candidates"] if c["key"] == key)


def stored_keys(results: JobResults) -> set[str]:
    """Every result and failure key of the job, in one listing per folder."""
    keys: set[str] = set()
    for folder in ("generations/", "scores/", "judgements/", "factuality/", "failures/"):
        keys.update(results.list(folder))
    return keys


def failure_name(key: str) -> str:
    return key.removeprefix("failures/").removesuffix(".json")


def pending_units(plan: dict[str, Any], stage: str, keys: set[str]) -> list[WorkUnit]:
    """Units of `stage` with neither a result nor a recorded failure."""
    return [
        unit
        for unit in stage_units(plan, stage)
        if unit.result_key not in keys and f"failures/{unit.name}.json" not in keys
    ]


def next_round(plan: dict[str, Any], keys: set[str]) -> tuple[int, list[WorkUnit]] | None:
    """The first round with pending units and those units; None when only the report is left."""
    for number, stages in enumerate(ROUNDS):
        units = [unit for stage in stages for unit in pending_units(plan, stage, keys)]
        if units:
            return number, units
    return None


def progress(plan: dict[str, Any] | None, keys: set[str]) -> dict[str, StageProgress]:
    """Per-stage done/total from the stored results."""
    if plan is None:
        return {"prepare": StageProgress(done=0, total=1)}
    stages = {"prepare": StageProgress(done=1, total=1)}
    for stage in UNIT_STAGES:
        units = stage_units(plan, stage)
        if units:
            done = sum(u.result_key in keys or f"failures/{u.name}.json" in keys for u in units)
            stages[stage] = StageProgress(done=done, total=len(units))
    return stages
