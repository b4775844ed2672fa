"""The training curve in the tools users watch runs with (`report_to`): TensorBoard, MLflow or
Weights & Biases, through their own libraries, imported only when chosen.

Each session logs the same metrics at the run's global step, so a run handed over between
machines is one curve: TensorBoard writes into the same folder (a new event file per
session), MLflow and W&B open one run per session named `<run_name>-session-<n>` and tagged or
grouped by the run name. The ledger in every bundle stays the record of truth; a tracker that
fails mid-run (a tracking server gone) is switched off with a warning, and training goes on.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from pathlib import Path
from typing import Any, Protocol

from ..config import TrainingJobConfig
from ..errors import ConfigError

log = logging.getLogger(__name__)

# report_to -> (module that must import, the advisor-trainer extra that installs it)
LIBRARIES = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "mlflow": ("mlflow", "mlflow"),
    "wandb": ("wandb", "wandb"),
}
DEFAULT_WANDB_PROJECT = "advisor-stack"


class Tracker(Protocol):
    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def close(self) -> None: ...


def check_tracker_library(report_to: str) -> None:
    """Refuse, before any model is loaded, a `report_to` whose library is not installed."""
    if report_to == "none":
        return
    module, extra = LIBRARIES[report_to]
    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"report_to: {report_to} needs the {module!r} package: "
            f"pip install 'advisor-trainer[{extra}]'"
        )


def logging_dir(config: TrainingJobConfig) -> Path:
    return Path(config.logging_dir or Path(config.output_dir) / "runs" / config.run_name)


def open_tracker(config: TrainingJobConfig, session: int, details: dict[str, Any]) -> Tracker:
    """The tracker `config.report_to` names, opened for session `session` of the run."""
    check_tracker_library(config.report_to)
    params = {**config.to_dict(), "session": session, **details}
    name = f"{config.run_name}-session-{session}"
    if config.report_to == "tensorboard":
        return TolerantTracker(TensorBoardTracker(logging_dir(config), params), "tensorboard")
    if config.report_to == "mlflow":
        return TolerantTracker(MlflowTracker(name, config.run_name, params), "mlflow")
    if config.report_to == "wandb":
        return TolerantTracker(WandbTracker(name, config.run_name, params), "wandb")
    return NoTracker()


class NoTracker:
    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        return None

    def close(self) -> None:
        return None


class TolerantTracker:
    """Switches a failing tracker off after its first error, with a warning: the curve is also
    in the ledger, and a tracking server must not end a session that has hours of budget."""

    def __init__(self, inner: Tracker, name: str):
        self.inner: Tracker | None = inner
        self.name = name

    def _call(self, method: str, *args: Any) -> None:
        if self.inner is None:
            return
        try:
            getattr(self.inner, method)(*args)
        except Exception as exc:  # noqa: BLE001 - any library error; reported, then off
            log.warning("%s stopped: %s; the ledger keeps the loss history", self.name, exc)
            self.inner = None

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self._call("log_metrics", metrics, step)

    def close(self) -> None:
        self._call("close")


class TensorBoardTracker:
    """Event files through torch's SummaryWriter (needs the `tensorboard` package); offline."""

    def __init__(self, folder: Path, params: dict[str, Any]):
        from torch.utils.tensorboard import SummaryWriter

        folder.mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(log_dir=str(folder))
        text = json.dumps(params, indent=1, default=str)
        self.writer.add_text("config", f"```\n{text}\n```", global_step=params.get("first_step"))

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        for name, value in metrics.items():
            self.writer.add_scalar(name, value, global_step=step)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def _flat(params: dict[str, Any]) -> dict[str, str]:
    """Parameters as short strings, as MLflow stores them (values up to 6,000 characters)."""
    return {
        key: json.dumps(value, default=str)[:500] if not isinstance(value, str) else value[:500]
        for key, value in params.items()
    }


class MlflowTracker:
    """An MLflow run per session, at MLFLOW_TRACKING_URI (MLflow's own default: ./mlruns)."""

    def __init__(self, name: str, run_name: str, params: dict[str, Any]):
        import mlflow

        self.mlflow = mlflow
        self.run = mlflow.start_run(run_name=name, tags={"advisor.run_name": run_name})
        mlflow.log_params(_flat(params))

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.mlflow.log_metrics(metrics, step=step)

    def close(self) -> None:
        self.mlflow.end_run()


class WandbTracker:
    """A W&B run per session in WANDB_PROJECT, grouped by the run name (WANDB_MODE=offline
    writes locally; `wandb sync` uploads later)."""

    def __init__(self, name: str, run_name: str, params: dict[str, Any]):
        import wandb

        project = os.environ.get("WANDB_PROJECT", DEFAULT_WANDB_PROJECT)
        self.run = wandb.init(project=project, name=name, group=run_name, config=params)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(metrics, step=step)

    def close(self) -> None:
        self.run.finish()


def step_metrics(report: Any) -> dict[str, float]:
    """The metrics of one optimizer step (a `progress.StepReport`)."""
    return {
        "train/loss": report.loss,
        "train/learning_rate": report.lr,
        "train/grad_norm": report.grad_norm,
        "train/tokens_per_s": report.tokens_per_s,
        "train/epoch": report.epoch,
    }
