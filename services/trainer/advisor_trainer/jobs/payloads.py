"""The training job's typed payloads.

Its request is the HTTP body (`TrainingJobCreate`: config fields plus this session's budget,
deadline and resume). Its result is the last committed bundle while the session runs and, once
it ends, how far it got and why it stopped. A run of the task reports a `RunOutcome`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from advisor_shared.job_payloads import JobPayloads

from ..schemas import TrainingJobCreate

JOB_KIND = "training"


class TrainingResult(BaseModel):
    """A training job's result: `bundle` and `global_step` from its first committed bundle on,
    the rest once the session has ended."""

    bundle: str | None = None
    global_step: int | None = None
    total_steps: int | None = None
    finished: bool | None = None
    stop_reason: str | None = None
    eval_loss: float | None = None


TRAINING = JobPayloads(JOB_KIND, TrainingJobCreate, TrainingResult)


class RunOutcome(BaseModel):
    """What one run of the training task did: `succeeded`, `cancelled`, or `skipped` (another
    worker holds the job), with the reason it did not run and the result it recorded."""

    job_id: str
    status: str
    reason: str | None = None
    result: TrainingResult = Field(default_factory=TrainingResult)

    def message(self) -> dict[str, Any]:
        """The task's return value, flat as Celery's result backend has always kept it."""
        reason = {} if self.reason is None else {"reason": self.reason}
        return {
            "job_id": self.job_id,
            "status": self.status,
            **reason,
            **TRAINING.result_json(self.result),
        }
