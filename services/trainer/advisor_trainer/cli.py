"""`advisor train`: one training session with rich progress, from a YAML config and flags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from advisor_shared.cli_output import fail, say
from advisor_shared.errors import AdvisorError
from advisor_shared.models import EMBEDDED_BASE, PRODUCTION_BASE, check_base_model

from .config import TrainingJobConfig, field_help, parse_override
from .core.config import Settings
from .stores import store_for
from .training.progress import StepReport, format_duration
from .training.stop_signals import StopRequest

console = Console(stderr=True)


def train(
    config: Path | None = typer.Option(
        None, "--config", "-c", help="YAML file of job config fields."
    ),
    session_budget: str | None = typer.Option(
        None, "--session-budget", help="Wall-clock budget of this session, e.g. 5h30m."
    ),
    deadline: str | None = typer.Option(
        None, "--deadline", help="End of this session, ISO 8601 with a time zone."
    ),
    resume: str | None = typer.Option(
        None, "--resume", help="'auto' (latest bundle of the run) or NAME@VERSION."
    ),
    run_name: str | None = typer.Option(None, "--run-name", help="Run name = adapter name."),
    base_model: str | None = typer.Option(None, "--base-model", help="Base model to adapt."),
    dataset: str | None = typer.Option(None, "--dataset", help="Training JSONL."),
    device_profile: str | None = typer.Option(
        None, "--device-profile", help="Simulated card on CPU (p100, t4, a100, h200)."
    ),
    backend: str | None = typer.Option(None, "--backend", help="auto, unsloth, hf-bnb, cpu-lora."),
    output_dir: str | None = typer.Option(None, "--output-dir", help="Local working folder."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Total optimizer steps."),
    overrides: list[str] = typer.Option(
        [], "--set", "-s", help="Any config field: --set lora_r=8 (repeatable)."
    ),
    events: Path | None = typer.Option(
        None, "--events", help="Also write one JSON line per step and event to this file."
    ),
    help_config: bool = typer.Option(
        False, "--help-config", help="List every config field with its default and exit."
    ),
) -> None:
    """Fine-tune the base model with LoRA for one session and write an adapter bundle."""
    if help_config:
        _print_fields()
        raise typer.Exit()
    flags: dict[str, Any] = {
        "session_budget": session_budget,
        "deadline": deadline,
        "resume": resume,
        "run_name": run_name,
        "base_model": base_model,
        "dataset": dataset,
        "device_profile": device_profile,
        "backend": backend,
        "output_dir": output_dir,
        "max_steps": max_steps,
    }
    try:
        values = TrainingJobConfig.read_yaml(config) if config else {}
        changes: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
        changes.update(dict(parse_override(item) for item in overrides))
        # A budget given on the command line replaces a deadline from the file, and back.
        if changes.get("session_budget") is not None:
            changes.setdefault("deadline", None)
        if changes.get("deadline") is not None:
            changes.setdefault("session_budget", None)
        if "base_model" not in values and "base_model" not in changes:
            changes["base_model"] = default_base_model()
        job = TrainingJobConfig.from_mapping({**values, **changes})
        check_base_model(job.base_model)  # one that cannot be had fails before torch loads
        settings = Settings()
        # torch and transformers load here, not for --help
        from .training.session import run_training

        with StopRequest() as stop, RichProgress(events) as progress:
            outcome = run_training(
                job, store_for(job, settings), settings.cache_dir, stop=stop, progress=progress
            )
    except AdvisorError as exc:
        fail(str(exc))
    ledger = outcome.ledger
    state = "finished" if outcome.finished else f"stopped ({outcome.stop_reason})"
    console.print(
        f"[green]✓[/green] {state} at step {ledger.global_step}/{ledger.total_steps} "
        f"(epoch {ledger.epoch:.2f}); bundle {outcome.bundle}"
    )
    if ledger.eval_history:
        console.print(f"  eval loss {ledger.eval_history[-1]['eval_loss']:.4f}")
    if not outcome.finished and outcome.bundle is not None:
        console.print(f"  continue with: advisor train ... --resume {outcome.bundle}")


def default_base_model() -> str:
    """The base model when none is named: the production one where a CUDA GPU can train it,
    the embedded one elsewhere (a laptop's first run trains something in minutes instead of
    failing to fetch 14 GB), said in one line."""
    from .hardware.device import detect_device

    if detect_device().kind == "cuda":
        return PRODUCTION_BASE
    say(
        f"no CUDA GPU here: training the embedded {EMBEDDED_BASE} instead of {PRODUCTION_BASE} "
        "(choose with --base-model)"
    )
    return EMBEDDED_BASE


def _print_fields() -> None:
    table = Table(title="training job config fields")
    for column in ("field", "default", "help"):
        table.add_column(column)
    for name, default, text in field_help():
        table.add_row(name, default, text)
    Console().print(table)


class RichProgress:
    """Step, loss, LR, tokens/s, ETA and time left in the session, live in the terminal."""

    def __init__(self, events: Path | None = None):
        self.events_path = events
        self._events: Any = None
        self.progress = Progress(
            TextColumn("[bold]step {task.completed}/{task.total}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        if self.events_path is not None:
            self.events_path.parent.mkdir(parents=True, exist_ok=True)
            self._events = open(self.events_path, "a", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        # The live display starts with training (on_start): a run refused before that prints
        # its one error line and nothing else.
        if self.task is not None:
            self.progress.stop()
        if self._events is not None:
            self._events.close()

    def _emit(self, record: dict[str, Any]) -> None:
        if self._events is not None:
            self._events.write(json.dumps(record) + "\n")
            self._events.flush()

    def on_start(self, info: dict[str, Any]) -> None:
        simulated = info.get("simulated_device")
        where = f"{info['device']} [{info['backend']}, {info['dtype']}]"
        if simulated:
            where += f" simulating {simulated['name']} (cc {simulated['compute_capability']})"
        console.print(
            f"training {info['run_name']} on {where}: {info['trainable_parameters']:,} "
            f"trainable parameters, {info['train_examples']} train / "
            f"{info['validation_examples']} validation conversations"
        )
        if info.get("resumed_from"):
            console.print(f"  continuing {info['resumed_from']} at step {info['start_step']}")
        self.task = self.progress.add_task(
            "train", total=info["total_steps"], completed=info["start_step"], status="loading"
        )
        self.progress.start()
        self._emit({"event": "start", **info})

    def on_step(self, report: StepReport) -> None:
        status = (
            f"loss {report.loss:.4f} lr {report.lr:.2e} {report.tokens_per_s:,.0f} tok/s "
            f"ETA {format_duration(report.eta_s)} "
            f"session left {format_duration(report.session_left_s)}"
        )
        if self.task is not None:
            self.progress.update(self.task, completed=report.step, status=status)
        self._emit({"event": "step", **report.__dict__})

    def on_bundle(self, ref: str, step: int) -> None:
        self.progress.console.print(f"  bundle {ref} at step {step}")
        self._emit({"event": "bundle", "bundle": ref, "step": step})

    def on_event(self, message: str) -> None:
        self.progress.console.print(f"  {message}")
        self._emit({"event": "message", "message": message})
