"""`advisor eval --config FILE`: the same evaluation job as `POST /v1/evaluations`, run by a
worker thread of this process, with a progress bar per stage.

The config file (YAML or JSON) has the request's shape; for convenience `dataset.path` and
`training_dataset_path` may name local JSONL files, which are put into the object store first
(under a content hash, so running twice stores them once).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from advisor_shared.cli_output import fail
from advisor_shared.errors import AdvisorError
from advisor_shared.jobs import JobRecord
from advisor_shared.models import encoder_path
from advisor_shared.store import ObjectStore

from .core.config import Settings
from .errors import EvaluationInputError
from .schemas import EvaluationCreate

if TYPE_CHECKING:
    from .jobs.runtime import Runtime

# The job's machinery (the OpenAI client, Celery, matplotlib) is imported when a job runs, not
# when the command starts: a config or encoder that cannot work is refused within seconds.
console = Console(stderr=True)
POLL_S = 0.5


def build_runtime(settings: Settings) -> Runtime:
    from .jobs.runtime import build_runtime as build

    return build(settings)


def upload_dataset(store: ObjectStore, path: Path) -> str:
    """Put a local dataset file into the store under its content hash; return the key."""
    data = Path(path).read_bytes()
    key = f"datasets/local/{hashlib.sha256(data).hexdigest()[:24]}.jsonl"
    if not store.exists(key):
        store.put_bytes(key, data)
    return key


def load_config(path: Path, store: ObjectStore) -> EvaluationCreate:
    """Read the config file into a request, uploading local dataset files it names."""
    raw: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise typer.BadParameter(f"{path}: expected a mapping at the top level")
    dataset = raw.get("dataset")
    if isinstance(dataset, dict) and "path" in dataset:
        raw["dataset"] = {
            "key": upload_dataset(
                store,
                (path.parent / dataset["path"]).resolve()
                if not Path(dataset["path"]).is_absolute()
                else Path(dataset["path"]),
            )
        }
    training = raw.pop("training_dataset_path", None)
    if training:
        training_path = Path(training)
        raw["training_dataset"] = upload_dataset(
            store, training_path if training_path.is_absolute() else path.parent / training_path
        )
    return EvaluationCreate.model_validate(raw)


def _follow(runtime: Runtime, job_id: str) -> JobRecord:
    """Show per-stage progress until the job finishes."""
    from .jobs.orchestration import live_progress
    from .jobs.submission import JOB_KIND

    with Progress(
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bars: dict[str, Any] = {}
        while True:
            record = runtime.jobs.get(JOB_KIND, job_id)
            for stage, state in live_progress(runtime, record).items():
                if stage not in bars:
                    bars[stage] = progress.add_task(stage, total=state.total)
                progress.update(bars[stage], completed=state.done, total=state.total)
            if record.status.finished:
                return record
            time.sleep(POLL_S)


def _write_outputs(runtime: Runtime, job_id: str, out: Path) -> dict[str, Any] | None:
    from .jobs.reports import read_report
    from .jobs.results import REPORT_MARKDOWN

    results = runtime.results(job_id)
    report = read_report(results)
    if report is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    for name in ["report.json", REPORT_MARKDOWN, *report.get("plots", [])]:
        (out / name).write_bytes(results.get_artifact(name))
    return report


def eval_command(
    config: Path = typer.Option(
        ...,
        "--config",
        exists=True,
        dir_okay=False,
        help="Evaluation request (YAML or JSON), as for POST /v1/evaluations.",
    ),
    out: Path = typer.Option(Path("out/eval"), help="Where report.json, report.md and plots go."),
) -> None:
    """Evaluate candidates on the inference API: BERTScore, ROUGE-L, a both-order blind judge,
    factuality via the auditor, and a report that separates fidelity from quality."""
    try:
        # An encoder that cannot be had fails now, not after every generation has run.
        encoder_path(Settings().bertscore_encoder)
    except AdvisorError as exc:
        fail(str(exc))
    from advisor_shared.queue import run_inprocess_worker

    from .jobs.results import REPORT_MARKDOWN
    from .jobs.submission import create_evaluation
    from .jobs.worker import build_worker

    runtime = build_runtime(Settings())
    settings = runtime.settings
    try:
        spec = load_config(config, runtime.store)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        console.print(f"[red]invalid config[/red] {config}: {where}: {first['msg']}")
        raise typer.Exit(2) from None
    worker = build_worker(settings, runtime, in_memory=True)
    # The queue only, without re-driving what earlier runs left: this command follows one job.
    with run_inprocess_worker(worker.app, concurrency=settings.inprocess_concurrency):
        try:
            record, _ = create_evaluation(runtime, spec, None, worker.tasks.start)
        except EvaluationInputError as exc:
            console.print(f"[red]refused[/red] ({exc.code}): {exc.message}")
            raise typer.Exit(2) from None
        console.print(f"evaluation {record.id}")
        record = _follow(runtime, record.id)
    if record.error:
        console.print(f"[red]failed[/red]: {record.error}")
        raise typer.Exit(1)
    report = _write_outputs(runtime, record.id, out)
    assert report is not None
    for line in report["verdicts"]:
        console.print(f"[bold]{line}[/bold]")
    for warning in report["warnings"]:
        console.print(f"[yellow]warning[/yellow]: {warning}")
    console.print(f"report: {out / REPORT_MARKDOWN}")
