"""`advisor demo`: the paper's study end to end, through the real services.

Each stage runs the service's own command in its own process (the trainer twice per fine-tune,
with a budget-forced handoff between processes; the gateway and the auditor API as servers;
the evaluator with its Celery worker), and the report is assembled from what they wrote.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from advisor_shared.errors import AdvisorError
from advisor_shared.models import (
    EMBEDDED_BASE,
    check_model_folder,
    materialise_smollm2,
    model_fingerprint,
)
from advisor_shared.settings import AdvisorSettings

from .auditor_service import DemoAuditor
from .calibration import measured_step_seconds
from .pipeline import (
    DemoContext,
    DemoPaths,
    TrainingRun,
    adapter_name,
    audit_training_data,
    serve_and_evaluate,
    train_with_handoff,
)
from .profile import PROFILES
from .report import device_label, sizes_table, terminal_table, write_report
from .stages import StageLog

console = Console()


def demo(
    out: Path = typer.Option(Path("out/demo"), help="Where the report is written."),
    work: Path = typer.Option(Path("var/demo"), help="The object store and working files."),
    profile: str = typer.Option(
        "embedded", help="embedded (CPU, SmolLM2-135M) or gpu (Mistral-7B)."
    ),
    base: Path | None = typer.Option(
        None,
        "--base",
        help="A local model folder to use as the base model instead of the profile's "
        "(config.json, weights, a tokenizer and a chat template).",
    ),
    steps: int | None = typer.Option(
        None, min=2, help="Override the optimizer steps per fine-tune."
    ),
    prompts: int | None = typer.Option(
        None, min=2, help="Override the number of evaluation prompts."
    ),
    new_tokens: int | None = typer.Option(
        None,
        min=16,
        help="Override the new tokens per answer (and per judge verdict, which needs 16).",
    ),
    first_session_budget: float | None = typer.Option(
        None, min=6.0, help="Seconds the first training session gets (default: measured share)."
    ),
) -> None:
    """Run the whole study — audit → gate → two-session fine-tunes (gated and ungated) →
    serve → evaluate → report — and print the paper's table."""
    if profile not in PROFILES:
        raise typer.BadParameter(f"unknown profile {profile!r}; choose {', '.join(PROFILES)}")
    try:
        base_folder = None if base is None else check_model_folder(base)
    except AdvisorError as exc:
        raise typer.BadParameter(str(exc), param_hint="--base") from None
    chosen = (
        PROFILES[profile]
        .with_overrides(
            train_steps=steps,
            eval_prompts=prompts,
            new_tokens=new_tokens,
            judge_max_tokens=new_tokens,
        )
        .with_base(None if base_folder is None else str(base_folder))
    )
    settings = AdvisorSettings()
    paths = DemoPaths(repo=Path.cwd(), out=out, work=work)
    if not (paths.sample / "train.jsonl").is_file():
        raise typer.BadParameter("run the demo from the repository root (data/sample/ is missing)")
    ctx = DemoContext(paths, chosen, settings.cache_dir)
    stages = StageLog(out / "stages.json", console)
    started = time.monotonic()
    try:
        data = _run_stages(ctx, stages, first_session_budget)
        labels = {
            "base": "base",
            "fine-tuned": data["names"]["ungated"],
            "fine-tuned (gated data)": data["names"]["gated"],
        }
        with stages.stage("report"):
            data["timings"] = stages.timings | {"total": round(time.monotonic() - started, 1)}
            data["cpu_seconds"] = stages.cpu_timings
            written = write_report(out, data, labels)
    except AdvisorError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        raise typer.Exit(1) from None
    timings = data["timings"]
    console.print(terminal_table(written["rows"], labels))
    for line in data["evaluation"]["report"].get("verdicts", []):
        console.print(f"[bold]verdict:[/bold] {line}")
    console.print(
        f"report: {out / 'report.md'} (figures in {out / 'report.json'}); took {timings['total']:.0f} s"
    )


def _run_stages(
    ctx: DemoContext, stages: StageLog, first_session_budget: float | None
) -> dict[str, Any]:
    p = ctx.profile
    with (
        stages.stage("prepare the base model"),
        console.status("dequantising or hashing once, cached after …"),
    ):
        if p.base_model == EMBEDDED_BASE:
            materialise_smollm2(AdvisorSettings().cache_dir)
        elif Path(p.base_model).is_dir():
            # Every service fingerprints the base; hashed once here, cached beside the weights.
            model_fingerprint(Path(p.base_model))
    with ExitStack() as services:
        auditor = ctx.auditor()
        services.callback(auditor.stop)
        return _audit_train_evaluate(ctx, stages, first_session_budget, auditor)


def _audit_train_evaluate(
    ctx: DemoContext, stages: StageLog, first_session_budget: float | None, auditor: DemoAuditor
) -> dict[str, Any]:
    p = ctx.profile
    with (
        stages.stage("audit the training data and gate it") as record,
        console.status("auditing claims against the source corpus …"),
    ):
        audit = audit_training_data(ctx, auditor)
        record["reused"] = audit["reused"]
    clean = Path(audit["dir"]) / "clean.jsonl"
    runs = [
        TrainingRun(
            "fine-tuned",
            adapter_name("ungated", p, ctx.paths.sample / "train.jsonl"),
            ctx.paths.sample / "train.jsonl",
        ),
        TrainingRun("fine-tuned (gated data)", adapter_name("gated", p, clean), clean),
    ]
    # No trainer process is started only to time a step: the first fine-tune's first session
    # is stopped by a signal after its share of the steps (as a preempted notebook is), and the
    # second's by a wall-clock budget sized from the steps the first one measured.
    step_s = 0.0
    for run in runs:
        with (
            stages.stage(f"train {run.label}: two sessions with a handoff") as record,
            console.status(f"training {run.adapter} …"),
        ):
            train_with_handoff(ctx, run, step_s, first_session_budget)
            record["reused"] = run.reused
        # A fine-tune that ran measured real steps: size the next one's budget from those.
        for session in (1, 2):
            events = ctx.paths.logs / f"{run.adapter}-session{session}.jsonl"
            step_s = measured_step_seconds(events) or step_s
        sessions = run.ledger.get("sessions", [])
        console.print(
            f"{run.adapter}: {'reused' if run.reused else 'trained'}; "
            + " → ".join(
                f"{device_label(s)} ({s['steps']} steps, {s['stop_reason']})" for s in sessions
            )
        )
    evaluation = serve_and_evaluate(ctx, runs, stages, auditor)
    return {
        "profile": p.to_dict(),
        "sizes": sizes_table(p),
        "audit": audit,
        "training": [
            {
                "label": r.label,
                "adapter": r.adapter,
                "reused": r.reused,
                "first_session_budget_s": r.budget_s,
                "dataset": str(r.dataset),
                "ledger": {
                    k: r.ledger.get(k)
                    for k in (
                        "global_step",
                        "total_steps",
                        "loss_history",
                        "eval_history",
                        "sessions",
                        "steps_per_epoch",
                    )
                },
            }
            for r in runs
        ],
        "step_estimate_s": step_s,
        "evaluation": evaluation,
        "names": {"ungated": runs[0].adapter, "gated": runs[1].adapter},
    }
