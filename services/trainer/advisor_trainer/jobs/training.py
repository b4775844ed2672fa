"""Training jobs over HTTP and the queue: validate a request, record it, run it once.

The request is checked completely at `POST` time (400 with the field at fault), stored
durably in the job record, and the queued message carries only the job id. The worker holds a
lease per job id for the whole run, so a redelivered or re-driven message (Redis visibility
timeout, F1) finds the lease held and returns at once. While it runs, the run keeps the job's
heartbeat and is registered in the kit's in-flight registry, so the reconciler re-drives it soon
after its worker dies (F2); that retry resumes from the last committed bundle of the run instead
of starting over.

Cancelling (`cancel_training_job`): the request is stored beside the record; a run in progress
sees it at its next step boundary, stops as it would for SIGTERM (the bundle of every completed
step is committed, so nothing trained is lost) and records `cancelled`. A job that no worker
holds (queued, or its worker gone) is recorded `cancelled` at once, under the same lease.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from advisor_shared.jobs import JobRecord, JobStatus, JobStore
from advisor_shared.lease import Lease

from ..config import TrainingJobConfig
from ..core.config import Settings
from ..errors import ConfigError
from ..request_limits import allowed_base_model, check_session_budget, check_sizes
from ..schemas import TrainingJobCreate
from ..training.progress import StepReport, step_line
from ..training.stop_signals import StopRequest
from .payloads import JOB_KIND, TRAINING, RunOutcome, TrainingResult
from .runtime import Runtime

CANCEL_REASON = "cancel request"
# Fields a job may not set over HTTP: the service decides where files and bundles go.
SERVICE_OWNED_FIELDS = (
    "output_dir",
    "store_url",
    "session_budget",
    "deadline",
    "resume",
    "logging_dir",
)
log = logging.getLogger(__name__)


def job_config(request: TrainingJobCreate, settings: Settings, job_id: str) -> TrainingJobConfig:
    """The validated config of a job request; raise ConfigError naming the bad field."""
    fields = dict(request.config)
    for name in SERVICE_OWNED_FIELDS:
        if name in fields:
            raise ConfigError(f"config.{name} is set by the service; use the request's fields")
    # Over HTTP the dataset is always named: the config's default is a path relative to the
    # worker's working directory, which is not the data folder.
    fields["dataset"] = str(_under_data_dir(fields.get("dataset"), settings.trainer_data_dir))
    default_base = TrainingJobConfig.model_fields["base_model"].default
    fields["base_model"] = allowed_base_model(fields.get("base_model", default_base), settings)
    check_session_budget(request.session_budget, settings)
    fields["output_dir"] = str(Path(settings.trainer_output_dir) / job_id)
    fields["session_budget"] = request.session_budget
    fields["deadline"] = request.deadline
    fields["resume"] = request.resume
    config = TrainingJobConfig.from_mapping(fields)
    check_sizes(config, settings)
    if config.session_budget is not None or config.deadline is not None:
        from ..training.budget import SessionBudget

        SessionBudget.from_config(config.session_budget, config.deadline, config.budget_margin_s)
    return config


def _under_data_dir(value: Any, data_dir: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("config.dataset must be a relative path under the data folder")
    relative = PurePosixPath(value)
    if relative.is_absolute() or ".." in relative.parts or "\\" in value:
        raise ConfigError(
            f"config.dataset {value[:100]!r} must be a relative path under the data folder"
        )
    return Path(data_dir) / relative


def create_training_job(
    jobs: JobStore,
    settings: Settings,
    request: TrainingJobCreate,
    idempotency_key: str | None,
    enqueue: Callable[[str], None],
    owner: str | None = None,
) -> tuple[JobRecord, bool]:
    """Validate, record and enqueue; the same Idempotency-Key returns the first job."""
    job_config(request, settings, "validation")  # refuse bad input before recording anything
    record, created = TRAINING.create(jobs, request, idempotency_key, owner=owner)
    if created:
        enqueue(record.id)
    return record, created


class JobProgress:
    """What a queued job shows while it runs: step progress in the durable job record (at most
    every `interval_s` seconds), the last committed bundle in its result (where the loss
    history is read from, `loss_history.py`), and step lines with loss, LR, tokens/s and ETA
    in the worker's log (at most every `log_interval_s`, and the first and last step).
    It stops the run at the next step boundary if the job's lease was lost (e.g. Redis came
    back empty): another worker may then start it, and two runs must not write one run."""

    def __init__(
        self,
        jobs: JobStore,
        job_id: str,
        lease: Lease,
        stop: StopRequest,
        interval_s: float = 5.0,
        log_interval_s: float = 30.0,
        cancel_check_s: float = 2.0,
    ):
        self.jobs, self.job_id, self.interval_s = jobs, job_id, interval_s
        self.lease, self.stop = lease, stop
        self.log_interval_s = log_interval_s
        self.cancel_check_s = cancel_check_s
        self._last = 0.0
        self._last_cancel_check = 0.0
        self._last_log: float | None = None
        self._first_step: int | None = None

    def on_start(self, info: dict[str, Any]) -> None:
        self._first_step = info["start_step"] + 1
        where = f"{info['device']} [{info['backend']}, {info['dtype']}]"
        resumed = f", continuing {info['resumed_from']}" if info.get("resumed_from") else ""
        log.info(
            "job %s: training %s on %s from step %d of %d%s: %s trainable parameters, "
            "%d train / %d validation conversations",
            self.job_id,
            info["run_name"],
            where,
            info["start_step"],
            info["total_steps"],
            resumed,
            f"{info['trainable_parameters']:,}",
            info["train_examples"],
            info["validation_examples"],
        )
        self.jobs.set_stage(JOB_KIND, self.job_id, "train", info["start_step"], info["total_steps"])

    def on_step(self, report: StepReport) -> None:
        if not self.lease.held:
            self.stop.request("lease lost")
        now = time.monotonic()
        if now - self._last_cancel_check >= self.cancel_check_s:
            self._last_cancel_check = now
            if self.jobs.cancel_requested(JOB_KIND, self.job_id):
                self.stop.request(CANCEL_REASON)
        edge = report.step in (self._first_step, report.total_steps)
        if edge or self._last_log is None or now - self._last_log >= self.log_interval_s:
            self._last_log = now
            log.info("job %s: %s", self.job_id, step_line(report))
        if now - self._last >= self.interval_s or report.step == report.total_steps:
            self._last = now
            self.jobs.set_stage(JOB_KIND, self.job_id, "train", report.step, report.total_steps)

    def on_bundle(self, ref: str, step: int) -> None:
        log.info("job %s: bundle %s at step %d", self.job_id, ref, step)
        result = TrainingResult(bundle=ref, global_step=step)
        self.jobs.update(JOB_KIND, self.job_id, result=TRAINING.result_json(result))

    def on_event(self, message: str) -> None:
        log.info("job %s: %s", self.job_id, message)


def run_training_job(
    runtime: Runtime, job_id: str, *, stop: StopRequest | None = None
) -> RunOutcome:
    """Run job `job_id` once under its lease; a second holder returns at once."""
    lease_name = runtime.train_lease_name(job_id)
    with runtime.lease(lease_name, ttl_s=runtime.settings.trainer_lease_ttl_s) as lease:
        if not lease.held:
            return RunOutcome(job_id=job_id, status="skipped", reason="another worker holds it")
        liveness, redis = runtime.liveness, runtime.redis
        # Registered while the lease is held: if this worker dies, the entry outlives the
        # lease and the reconciler re-drives the job within a lease TTL.
        with (
            liveness.keep_alive(redis, job_id),
            liveness.running(redis, job_id, "train", lease_name),
        ):
            return _run_leased(runtime, job_id, lease, stop or StopRequest())


def _run_leased(runtime: Runtime, job_id: str, lease: Lease, stop: StopRequest) -> RunOutcome:
    """The run of a job whose lease this worker holds."""
    settings, jobs, store = runtime.settings, runtime.jobs, runtime.store
    record = jobs.get(JOB_KIND, job_id)
    if record.status.finished:
        return RunOutcome(job_id=job_id, status=record.status.value, reason="already done")
    if jobs.cancel_requested(JOB_KIND, job_id):
        jobs.mark_cancelled(JOB_KIND, job_id)
        return RunOutcome(job_id=job_id, status="cancelled", reason="cancelled before it ran")
    attempts = record.attempts + 1
    jobs.update(JOB_KIND, job_id, status=JobStatus.RUNNING, attempts=attempts, error=None)
    try:
        config = job_config(TRAINING.request_of(record), settings, job_id)
        if attempts > 1 and config.resume is None:
            # A retry continues what the lost attempt committed instead of starting over.
            config = config.with_overrides(resume="auto")
        from ..training.session import run_training

        progress = JobProgress(
            jobs, job_id, lease, stop, log_interval_s=settings.trainer_log_interval_s
        )
        outcome = run_training(config, store, settings.cache_dir, stop=stop, progress=progress)
    except Exception as exc:
        if stop.reason == CANCEL_REASON:
            # Stopped before its first step: nothing was trained, nothing to hand over.
            jobs.mark_cancelled(JOB_KIND, job_id, error=None)
            log.info("job %s cancelled before its first step", job_id)
            return RunOutcome(job_id=job_id, status="cancelled", reason=str(exc)[:200])
        log.error("job %s failed: %s", job_id, exc)
        jobs.update(JOB_KIND, job_id, status=JobStatus.FAILED, error=str(exc)[:2000])
        raise
    evals = outcome.ledger.eval_history
    result = TrainingResult(
        bundle=str(outcome.bundle) if outcome.bundle else None,
        global_step=outcome.ledger.global_step,
        total_steps=outcome.ledger.total_steps,
        finished=outcome.finished,
        stop_reason=outcome.stop_reason,
        eval_loss=evals[-1]["eval_loss"] if evals else None,
    )
    cancelled = stop.reason == CANCEL_REASON
    if cancelled:
        # The bundle of the completed steps is committed: `resume` continues from it.
        jobs.mark_cancelled(JOB_KIND, job_id, result=TRAINING.result_json(result))
    else:
        jobs.update(
            JOB_KIND, job_id, status=JobStatus.SUCCEEDED, result=TRAINING.result_json(result)
        )
    session = outcome.session
    log.info(
        "job %s: %s at step %d/%d in %.0f s; bundle %s; eval loss %s; peak memory %s",
        job_id,
        session.stop_reason,
        result.global_step,
        result.total_steps,
        session.wall_time_s,
        result.bundle,
        result.eval_loss,
        describe_peak_memory(session.peak_memory),
    )
    status = "cancelled" if cancelled else "succeeded"
    return RunOutcome(job_id=job_id, status=status, result=result)


def describe_peak_memory(peak: dict[str, Any]) -> str:
    """The session's measured peak, as the log shows it."""
    if peak.get("kind") == "cuda":
        return (
            f"{peak['max_memory_allocated_bytes'] / 1e9:.2f} GB allocated, "
            f"{peak['max_memory_reserved_bytes'] / 1e9:.2f} GB reserved (CUDA)"
        )
    if "rss_peak_bytes" in peak:
        return f"{peak['rss_peak_bytes'] / 1e9:.2f} GB resident (CPU)"
    return "not measured"


def cancel_training_job(
    jobs: JobStore, redis_client: Any | None, job_id: str, settings: Settings
) -> JobRecord:
    """Store the cancel request; if no worker holds the job, record `cancelled` now."""
    record = jobs.request_cancel(JOB_KIND, job_id)
    if record.status.finished:
        return record
    with Lease(redis_client, f"train:{job_id}", ttl_s=settings.trainer_lease_ttl_s) as lease:
        if lease.held:  # no run in progress: nobody else will see the request soon
            return jobs.with_cancel(jobs.mark_cancelled(JOB_KIND, job_id))
    return record
