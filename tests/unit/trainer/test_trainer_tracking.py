"""Training you can watch: `report_to: tensorboard` writes event files a reader gets the run's
curve back from (one curve across a resume), MLflow and W&B get the same metrics through their
client calls, a missing library is refused before any model loads, and the ledger's curve
carries the session of every step."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from advisor_trainer.config import TrainingJobConfig
from advisor_trainer.errors import ConfigError
from advisor_trainer.loss_history import history_from_ledger
from advisor_trainer.training.progress import SilentProgress
from advisor_trainer.training.session import run_training
from advisor_trainer.training.stop_signals import StopRequest
from advisor_trainer.training.tracking import TolerantTracker, check_tracker_library, open_tracker
from tests.unit.trainer.trainer_testkit import tiny_config

pytestmark = pytest.mark.unit


class StopAfter(SilentProgress):
    def __init__(self, stop: StopRequest, step: int):
        self.stop, self.step = stop, step

    def on_step(self, report: Any) -> None:
        if report.step == self.step:
            self.stop.request("SIGTERM")


def read_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files of `folder`, read back with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(folder.glob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            found.setdefault(tag, []).extend((e.step, e.value) for e in accumulator.Scalars(tag))
    return found


def test_tensorboard_holds_the_curve_of_a_run_handed_over(
    tiny_model_dir, tiny_dataset, local_store, tmp_path
) -> None:
    config = tiny_config(
        tiny_model_dir, tiny_dataset, tmp_path / "out", report_to="tensorboard", max_steps=5
    )
    stop = StopRequest()
    run_training(config, local_store, tmp_path / "c", stop=stop, progress=StopAfter(stop, 2))
    second = run_training(config.with_overrides(resume="auto"), local_store, tmp_path / "c")
    assert second.finished
    folder = tmp_path / "out" / "runs" / "tiny-run"
    assert len(list(folder.glob("events.out.tfevents.*"))) == 2  # one file per session
    scalars = read_scalars(folder)
    ledger = second.ledger
    loss = sorted(scalars["train/loss"])
    assert [step for step, _ in loss] == [1, 2, 3, 4, 5]
    assert [value for _, value in loss] == pytest.approx([h["loss"] for h in ledger.loss_history])
    lrs = sorted(scalars["train/learning_rate"])
    assert [value for _, value in lrs] == pytest.approx([h["lr"] for h in ledger.loss_history])
    assert {"train/grad_norm", "train/tokens_per_s", "train/epoch"} <= set(scalars)
    evals = sorted(scalars["eval/loss"])
    assert [step for step, _ in evals] == [e["step"] for e in ledger.eval_history] == [2, 5]
    assert [v for _, v in evals] == pytest.approx([e["eval_loss"] for e in ledger.eval_history])
    history = history_from_ledger(ledger.to_dict(), "tiny-run@v0002")
    assert [(p.step, p.session) for p in history.loss] == [(1, 0), (2, 0), (3, 1), (4, 1), (5, 1)]
    assert [p.session for p in history.eval] == [0, 1]


def test_a_missing_library_is_refused_naming_the_extra(monkeypatch) -> None:
    real = __import__("importlib.util").util.find_spec
    monkeypatch.setattr(
        "importlib.util.find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    with pytest.raises(ConfigError) as caught:
        check_tracker_library("mlflow")
    assert str(caught.value) == (
        "report_to: mlflow needs the 'mlflow' package: pip install 'advisor-trainer[mlflow]'"
    )
    with pytest.raises(ConfigError, match="report_to: 'comet' is not one of 'none', 'tensorboard'"):
        TrainingJobConfig(report_to="comet")  # type: ignore[arg-type]


class Recorder:
    """Stands in for the mlflow and wandb modules: records the calls made to it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs)) or self


@pytest.mark.parametrize("report_to", ["mlflow", "wandb"])
def test_mlflow_and_wandb_get_a_run_per_session_and_the_metrics(report_to, monkeypatch) -> None:
    recorder = Recorder()
    module = types.ModuleType(report_to)
    module.__getattr__ = recorder.__getattr__  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, report_to, module)
    monkeypatch.setattr("advisor_trainer.training.tracking.check_tracker_library", lambda _: None)
    config = TrainingJobConfig(run_name="study", report_to=report_to)  # type: ignore[arg-type]
    tracker = open_tracker(config, 1, {"first_step": 6})
    tracker.log_metrics({"train/loss": 1.5}, 7)
    tracker.close()
    names = [name for name, _, _ in recorder.calls]
    if report_to == "mlflow":
        assert names == ["start_run", "log_params", "log_metrics", "end_run"]
        assert recorder.calls[0][2] == {
            "run_name": "study-session-1",
            "tags": {"advisor.run_name": "study"},
        }
        assert recorder.calls[1][1][0]["first_step"] == "6"
        assert recorder.calls[2][1:] == (({"train/loss": 1.5},), {"step": 7})
    else:
        assert names == ["init", "log", "finish"]
        init = recorder.calls[0][2]
        assert (init["name"], init["group"], init["project"]) == (
            "study-session-1",
            "study",
            "advisor-stack",
        )
        assert recorder.calls[1][1:] == (({"train/loss": 1.5},), {"step": 7})


def test_a_tracker_that_fails_is_switched_off_and_training_goes_on(caplog) -> None:
    class Broken:
        calls = 0

        def log_metrics(self, metrics: dict[str, float], step: int) -> None:
            Broken.calls += 1
            raise ConnectionError("tracking server gone")

        def close(self) -> None:
            raise AssertionError("a tracker switched off is not called again")

    tracker = TolerantTracker(Broken(), "mlflow")
    tracker.log_metrics({"train/loss": 1.0}, 1)
    tracker.log_metrics({"train/loss": 0.9}, 2)
    tracker.close()
    assert Broken.calls == 1
    assert "mlflow stopped: tracking server gone" in caplog.text
