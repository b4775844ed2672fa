"""One training session: load, (resume,) train step by step, stop in time, hand over.

The loop is ours rather than a `Trainer` subclass because the handoff needs three things a
stock trainer restarts on reload (LLaMA-Factory #3042, Axolotl #1134): the LR comes from a
pure function of the global step, the batches from a pure function of (seed, epoch), and the
stop decision is made between steps from measured step and bundle-write times.
"""

from __future__ import annotations

import logging
import pickle
import resource
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from advisor_shared.bundle import BundleRef
from advisor_shared.errors import BundleError
from advisor_shared.store import ObjectStore

from ..backends import LoadedModel, load_model
from ..checkpoints import resume
from ..checkpoints.export import export_merged
from ..checkpoints.ledger import HandoffLedger, SessionRecord, capture_rng_state, restore_rng_state
from ..checkpoints.writer import BundleIdentity, BundleWriter, take_snapshot
from ..config import TrainingJobConfig
from ..data.batches import evaluation_loss
from ..data.order import batch_digest
from ..errors import HandoffMismatchError, TrainerError
from ..hardware.pass_size import choose_rows_per_pass, measured_free_bytes
from .optimizer import build_optimizer
from .preparation import RunPlan, prepare_run
from .progress import ProgressSink, SilentProgress, StepReport
from .step import optimizer_step
from .stop_signals import StopRequest
from .tracking import Tracker, open_tracker, step_metrics
from .warm_up import largest_pass, warm_up

log = logging.getLogger(__name__)


@dataclass
class TrainingOutcome:
    """What a session did: the bundle it left, its ledger and its own record."""

    bundle: BundleRef | None
    ledger: HandoffLedger
    session: SessionRecord
    stop_reason: str
    merged_export: Path | None = None
    model: Any = None  # the trained PeftModel, for callers that evaluate in-process

    @property
    def finished(self) -> bool:
        return self.ledger.finished


def run_training(
    config: TrainingJobConfig,
    store: ObjectStore,
    cache_dir: Path,
    *,
    stop: StopRequest | None = None,
    progress: ProgressSink | None = None,
) -> TrainingOutcome:
    """Run one session of `config`: the checks of `prepare_run`, then `train_session`."""
    started = time.monotonic()
    plan = prepare_run(config, store, cache_dir)
    return train_session(plan, store, stop=stop, progress=progress, started=started)


def train_session(
    plan: RunPlan,
    store: ObjectStore,
    *,
    stop: StopRequest | None = None,
    progress: ProgressSink | None = None,
    started: float | None = None,
) -> TrainingOutcome:
    """Train from the plan's starting point until finished, stopped, or out of budget."""
    config = plan.config
    stop = stop or StopRequest()
    progress = progress or SilentProgress()
    started = started if started is not None else time.monotonic()
    ledger = _starting_ledger(plan)
    if plan.resume_point is not None and config.resume_mode == "restore" and ledger.finished:
        session = _session_record(plan, ledger)
        session.stop_reason = "already finished"
        return TrainingOutcome(plan.resume_point.ref, ledger, session, "already finished")

    # Opened before the model loads, so that a tracking server that refuses fails in seconds.
    tracker = open_tracker(
        config,
        len(ledger.sessions),
        {
            "first_step": ledger.global_step,
            "device": plan.device.name,
            "backend": plan.backend.name,
        },
    )
    try:
        return _run_session(plan, store, stop, progress, started, ledger, tracker)
    finally:
        tracker.close()


def _run_session(
    plan: RunPlan,
    store: ObjectStore,
    stop: StopRequest,
    progress: ProgressSink,
    started: float,
    ledger: HandoffLedger,
    tracker: Tracker,
) -> TrainingOutcome:
    import torch

    config = plan.config
    torch.manual_seed(config.seed)
    loaded = load_model(plan.backend.name, config, plan.base.location, plan.dtype)
    model = loaded.model
    if plan.resume_point is not None:
        resume.load_adapter_weights(model, plan.resume_point.bundle.path)
    trainable = [p for p in model.parameters() if p.requires_grad]
    adapter_bytes = sum(p.numel() * p.element_size() for p in trainable)
    rows_per_pass = None
    if loaded.packing:
        rows_per_pass = choose_rows_per_pass(
            configured=config.rows_per_pass,
            micro_batch_size=config.micro_batch_size,
            step_rows=config.micro_batch_size * config.gradient_accumulation_steps,
            # Only the flat layout (varlen attention, linear in the tokens) gains: see pass_size.
            free_bytes=measured_free_bytes(loaded.device) if loaded.packing == "flat" else None,
            reserved_bytes=plan.memory.components["lora_and_optimizer"],
            row_bytes=plan.row_bytes,
        )
    if loaded.device.startswith("cuda"):
        _warm_up(plan, loaded, ledger.global_step, rows_per_pass)
    optimizer, optimizer_used = build_optimizer(
        config.optim,
        trainable,
        lr=plan.schedule.lr_at(ledger.global_step),
        weight_decay=config.weight_decay,
        device_kind=plan.device.kind,
    )
    _restore_optimizer_and_rng(plan, optimizer, ledger)
    scaler = torch.amp.GradScaler("cuda", enabled=loaded.dtype == "float16")
    if loaded.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()

    session = _session_record(plan, ledger, optimizer_used)
    ledger.sessions.append(session)
    identity = BundleIdentity(
        config.run_name, config.base_model, plan.base.fingerprint, plan.template_sha256
    )
    writer = BundleWriter(
        store,
        identity,
        Path(config.output_dir) / "staging" / config.run_name,
        parent=str(plan.resume_point.ref) if plan.resume_point else None,
    )
    session.packing = loaded.packing or "off"
    session.rows_per_pass = rows_per_pass
    stalls: dict[int, float] = {}
    reported = 0  # bundles of this session already passed to progress.on_bundle
    progress.on_start(_start_info(plan, loaded, ledger))
    model.train()
    stop_reason = "finished"
    total = plan.schedule.total_steps
    while ledger.global_step < total:
        if stop.requested:
            stop_reason = f"stopped by {stop.reason}"
            break
        if writer.last_write_s is not None:
            plan.budget.record_bundle_write(writer.last_write_s)
        if not plan.budget.room_for_another_step(adapter_bytes):
            stop_reason = "session budget"
            break
        step_started = time.monotonic()
        record = _train_one_step(
            plan, loaded, optimizer, scaler, trainable, ledger.global_step, session.rows_per_pass
        )
        ledger.global_step += 1
        ledger.samples_consumed += record.pop("samples")
        ledger.tokens_consumed += record["tokens"]
        ledger.loss_history.append(record)
        elapsed = time.monotonic() - step_started
        plan.budget.record_step(elapsed)
        session.steps += 1
        report = _report(plan, ledger, record, elapsed)
        progress.on_step(report)
        tracker.log_metrics(step_metrics(report), report.step)
        reported = _report_bundles(writer, progress, reported)
        step = ledger.global_step
        if config.eval_every_steps and step % config.eval_every_steps == 0 and step < total:
            eval_started = time.monotonic()
            _evaluate(plan, loaded, ledger, tracker)
            plan.budget.record_eval(time.monotonic() - eval_started)
        if config.checkpoint_every_steps and step % config.checkpoint_every_steps == 0:
            if step < total:
                session.wall_time_s = round(time.monotonic() - started, 3)
                session.peak_memory = measured_peak_memory(loaded.device)
                stall_started = time.monotonic()
                ledger.rng_state = capture_rng_state()
                snapshot = _snapshot(plan, model, ledger, optimizer)
                if config.checkpoint_async:
                    writer.submit(snapshot)
                else:
                    writer.write(snapshot)
                    reported = _report_bundles(writer, progress, reported)
                # What the periodic bundle cost the training thread (the snapshot, and waiting
                # for the previous upload if it still ran): the part not off the critical path.
                stalls[step] = round(time.monotonic() - stall_started, 4)

    writer.wait()
    reported = _report_bundles(writer, progress, reported)
    session.periodic_bundles = [
        {"step": step, "stall_s": stalls.get(step), "write_s": round(seconds, 4)}
        for step, seconds in writer.write_times
    ]
    if session.steps == 0 and plan.resume_point is None:
        session.stop_reason = stop_reason
        raise TrainerError(
            f"no step completed before the session ended ({stop_reason}); nothing to hand over"
        )
    if plan.validation:
        eval_started = time.monotonic()
        _evaluate(plan, loaded, ledger, tracker)
        plan.budget.record_eval(time.monotonic() - eval_started)
    session.stop_reason = stop_reason
    session.wall_time_s = round(time.monotonic() - started, 3)
    session.peak_memory = measured_peak_memory(loaded.device)
    ledger.rng_state = capture_rng_state()
    bundle = plan.resume_point.ref if plan.resume_point else None
    if session.steps:
        bundle = writer.write(_snapshot(plan, model, ledger, optimizer))
        _report_bundles(writer, progress, reported)
    merged = None
    if config.export_merged and ledger.finished and bundle is not None:
        merged = export_merged(plan, store, bundle)
        progress.on_event(f"merged fp16 export in {merged}")
    return TrainingOutcome(bundle, ledger, session, stop_reason, merged, model)


def _starting_ledger(plan: RunPlan) -> HandoffLedger:
    point = plan.resume_point
    if point is not None and plan.config.resume_mode == "restore":
        return point.ledger
    config = plan.config
    return HandoffLedger(
        run_name=config.run_name,
        base_model=config.base_model,
        global_step=0,
        total_steps=plan.schedule.total_steps,
        steps_per_epoch=plan.order.steps_per_epoch,
        samples_consumed=0,
        tokens_consumed=0,
        data_order={
            "seed": plan.order.seed,
            "kind": "length-grouped" if plan.order.length_grouping else "shuffled",
            "micro_batch_size": plan.order.micro_batch_size,
            "gradient_accumulation_steps": plan.order.gradient_accumulation_steps,
            "length_group_size": plan.order.length_group_size,
            "train_examples": len(plan.train),
            "validation_examples": len(plan.validation),
            "skipped_without_targets": plan.skipped_without_targets,
        },
        schedule=plan.schedule.to_dict(),
        seeds={
            "seed": config.seed,
            "data_seed": config.data_seed,
            "lora_init_seed": config.lora_init_seed,
        },
        training_shape=plan.training_shape,
        optimizer_saved=config.save_optimizer,
    )


def _session_record(
    plan: RunPlan, ledger: HandoffLedger, optimizer_used: str = "-"
) -> SessionRecord:
    point = plan.resume_point
    return SessionRecord(
        index=len(ledger.sessions),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        device_name=plan.device.name,
        device_kind=plan.device.kind,
        compute_capability=plan.device.capability_text,
        dtype=plan.dtype,
        backend=plan.backend.name,
        optimizer=optimizer_used,
        first_step=ledger.global_step,
        simulated_device=plan.simulated_device,
        memory_estimate=plan.memory.to_dict(),
        resumed_from=str(point.ref) if point else None,
        resume_mode=plan.config.resume_mode if point else None,
    )


def _restore_optimizer_and_rng(plan: RunPlan, optimizer: Any, ledger: HandoffLedger) -> None:
    import torch

    point = plan.resume_point
    if point is None or plan.config.resume_mode != "restore":
        return
    if point.optimizer_path is not None and plan.config.save_optimizer:
        try:
            state = torch.load(point.optimizer_path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            # weights_only refuses anything but tensors and plain containers: never run it.
            raise BundleError(
                f"{point.ref}: optimizer.pt holds more than tensors; refused ({exc.__class__.__name__})"
            ) from None
        try:
            optimizer.load_state_dict(state)
        except (ValueError, KeyError) as exc:
            raise HandoffMismatchError(
                f"{point.ref}: optimizer.pt does not fit this run's adapter tensors ({exc})"
            ) from None
    if ledger.rng_state:
        restore_rng_state(ledger.rng_state)


def _warm_up(plan: RunPlan, loaded: LoadedModel, first_step: int, rows: int | None) -> None:
    started = time.monotonic()
    inputs = largest_pass(
        range(first_step, plan.schedule.total_steps),
        lambda step: [[plan.train[i] for i in batch] for batch in plan.order.step_batches(step)],
        layout=loaded.packing,
        max_seq_len=plan.config.max_seq_len,
        pad_token_id=plan.pad_token_id,
        rows_per_pass=rows,
    )
    if inputs is not None:
        warm_up(loaded.model, inputs, device=loaded.device, dtype=loaded.dtype)
        log.info(
            "warm-up pass of %d tokens in %.1f s",
            inputs["input_ids"].numel(),
            time.monotonic() - started,
        )


def _train_one_step(
    plan: RunPlan,
    loaded: LoadedModel,
    optimizer: Any,
    scaler: Any,
    trainable: list[Any],
    step: int,
    rows_per_pass: int | None,
) -> dict[str, Any]:
    """Optimizer step `step` (0-based) of the run; returns the step's ledger record."""
    examples = [[plan.train[i] for i in batch] for batch in plan.order.step_batches(step)]
    lr = plan.schedule.lr_at(step)
    loss, grad_norm = optimizer_step(
        loaded,
        optimizer,
        scaler,
        trainable,
        examples,
        lr=lr,
        max_grad_norm=plan.config.max_grad_norm,
        pad_token_id=plan.pad_token_id,
        max_seq_len=plan.config.max_seq_len,
        rows_per_pass=rows_per_pass,
    )
    return {
        "step": step + 1,
        "loss": round(loss, 6),
        "lr": lr,
        "grad_norm": round(grad_norm, 6),
        "tokens": sum(e.length for batch in examples for e in batch),
        "samples": sum(len(batch) for batch in examples),
        "batch": batch_digest([[e.conversation_id for e in batch] for batch in examples]),
    }


def _report_bundles(writer: BundleWriter, progress: ProgressSink, reported: int) -> int:
    """Pass bundles committed since the last call (the upload thread appends to
    `writer.written`) to the progress sink from the training thread; return the new count."""
    committed = list(writer.written)
    for step, ref in committed[reported:]:
        progress.on_bundle(str(ref), step)
    return len(committed)


def _evaluate(
    plan: RunPlan, loaded: LoadedModel, ledger: HandoffLedger, tracker: Tracker | None = None
) -> None:
    value = evaluation_loss(
        loaded.model,
        plan.validation,
        micro_batch_size=plan.config.micro_batch_size,
        pad_token_id=plan.pad_token_id,
        device=loaded.device,
        dtype=loaded.dtype,
        layout=loaded.packing,
        max_seq_len=plan.config.max_seq_len,
        rows_per_pass=ledger.sessions[-1].rows_per_pass if ledger.sessions else None,
    )
    if value is not None:
        entry = {"step": ledger.global_step, "eval_loss": round(value, 6)}
        if not ledger.eval_history or ledger.eval_history[-1] != entry:
            ledger.eval_history.append(entry)
            if tracker is not None:
                tracker.log_metrics({"eval/loss": entry["eval_loss"]}, ledger.global_step)


def _snapshot(plan: RunPlan, model: Any, ledger: HandoffLedger, optimizer: Any) -> Any:
    return take_snapshot(
        model,
        global_step=ledger.global_step,
        chat_template=plan.chat_template,
        ledger=ledger.to_dict(),
        base_model_id=plan.config.base_model,
        optimizer=optimizer if plan.config.save_optimizer else None,
    )


def measured_peak_memory(device: str) -> dict[str, Any]:
    """Measured peaks (never the card's capacity, docs/design.md, lesson 4)."""
    if device.startswith("cuda"):
        import torch

        return {
            "kind": "cuda",
            "max_memory_allocated_bytes": int(torch.cuda.max_memory_allocated()),
            "max_memory_reserved_bytes": int(torch.cuda.max_memory_reserved()),
        }
    # ru_maxrss is in KiB on Linux: the peak resident set of this process so far.
    return {
        "kind": "cpu",
        "rss_peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def _start_info(plan: RunPlan, loaded: LoadedModel, ledger: HandoffLedger) -> dict[str, Any]:
    return {
        "run_name": plan.config.run_name,
        "device": plan.device.name,
        "backend": plan.backend.name,
        "dtype": loaded.dtype,
        "packing": loaded.packing or "off",
        "rows_per_pass": ledger.sessions[-1].rows_per_pass,
        "trainable_parameters": loaded.trainable_parameters(),
        "start_step": ledger.global_step,
        "total_steps": plan.schedule.total_steps,
        "train_examples": len(plan.train),
        "validation_examples": len(plan.validation),
        "simulated_device": plan.simulated_device,
        "resumed_from": str(plan.resume_point.ref) if plan.resume_point else None,
        "memory_estimate": plan.memory.to_dict(),
        "session_left_s": plan.budget.seconds_left(),
    }


def _report(
    plan: RunPlan, ledger: HandoffLedger, record: dict[str, Any], elapsed: float
) -> StepReport:
    recent = list(plan.budget.step_times)
    mean = sum(recent) / len(recent) if recent else elapsed
    return StepReport(
        step=ledger.global_step,
        total_steps=ledger.total_steps,
        epoch=ledger.epoch,
        loss=record["loss"],
        lr=record["lr"],
        grad_norm=record["grad_norm"],
        tokens=record["tokens"],
        step_time_s=elapsed,
        tokens_per_s=record["tokens"] / elapsed if elapsed > 0 else 0.0,
        eta_s=mean * (ledger.total_steps - ledger.global_step),
        session_left_s=plan.budget.seconds_left(),
    )
