"""The demo's parts that decide before anything runs, or from what a stage wrote: the base
folder check, the flags refused up front, the signal handoff's trigger and the stage record."""

from __future__ import annotations

import io
import json
import shutil
import signal
import sys
import tarfile
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from advisor_demo.pipeline import StopAfterShare
from advisor_demo.profile import EMBEDDED, GPU
from advisor_demo.stages import StageLog
from advisor_shared.cli import build_app
from advisor_shared.errors import ModelResolutionError
from advisor_shared.models import check_model_folder

pytestmark = pytest.mark.unit


@pytest.fixture
def demo_gpu():
    """benchmarks/demo_gpu.py, the GPU run's driver, as a module."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import demo_gpu

    return demo_gpu


def copy_model(source: Path, target: Path, leave_out: tuple[str, ...] = ()) -> Path:
    target.mkdir()
    for item in source.iterdir():
        if item.is_file() and item.name not in leave_out:
            shutil.copy(item, target / item.name)
    return target


def test_a_complete_model_folder_is_accepted(tiny_model_dir) -> None:
    assert check_model_folder(tiny_model_dir) == tiny_model_dir.resolve()


@pytest.mark.parametrize(
    ("leave_out", "named"),
    [
        (("config.json",), "no config.json"),
        (("model.safetensors",), "no weights (*.safetensors or *.bin)"),
        (("tokenizer.json",), "no a tokenizer (tokenizer.json or tokenizer.model)"),
    ],
)
def test_a_folder_without_a_part_names_it(tiny_model_dir, tmp_path, leave_out, named) -> None:
    folder = copy_model(tiny_model_dir, tmp_path / "model", leave_out)
    with pytest.raises(ModelResolutionError, match="is not a model folder") as caught:
        check_model_folder(folder)
    assert named in str(caught.value)


def test_a_folder_without_a_chat_template_is_refused(tiny_model_dir, tmp_path) -> None:
    folder = copy_model(tiny_model_dir, tmp_path / "model", ("chat_template.jinja",))
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ModelResolutionError, match="no a chat template"):
        check_model_folder(folder)


def test_demo_refuses_a_base_that_is_not_a_model_folder(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    result = CliRunner().invoke(
        build_app(), ["demo", "--profile", "gpu", "--base", str(tmp_path)], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 2
    assert "--base" in result.output
    assert "is not a model folder: no config.json" in result.output


def test_demo_refuses_answers_too_short_for_a_judge_verdict_before_running() -> None:
    # The evaluator refuses judge.max_tokens < 16 only after audit and training (minutes in);
    # the flag is checked first, so the unknown profile is never reached.
    result = CliRunner().invoke(
        build_app(), ["demo", "--new-tokens", "8", "--profile", "nope"], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 2
    assert "--new-tokens" in result.output and "16" in result.output


def test_profiles_say_how_the_first_session_ends() -> None:
    assert EMBEDDED.handoff == "budget" and GPU.handoff == "signal"
    assert GPU.with_base("/models/x").base_model == "/models/x"
    assert GPU.with_base(None) is GPU


class RecordingProcess:
    """Stands in for the trainer's Popen: records the signals sent to it."""

    def __init__(self) -> None:
        self.signals: list[int] = []

    def send_signal(self, signum: int) -> None:
        self.signals.append(signum)


def write_events(path: Path, *events: dict, partial: str = "") -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(e) + "\n" for e in events)
        handle.write(partial)


@pytest.mark.parametrize(("total", "share", "target"), [(12, 0.33, 4), (2, 0.33, 1), (3, 0.9, 2)])
def test_sigterm_goes_out_once_the_share_of_steps_is_done(tmp_path, total, share, target) -> None:
    events, process = tmp_path / "events.jsonl", RecordingProcess()
    stopper = StopAfterShare(events, share)
    stopper(process)  # no file yet: nothing to do
    write_events(events, {"event": "start", "total_steps": total, "start_step": 0})
    for step in range(1, target):
        write_events(events, {"event": "step", "step": step})
        stopper(process)
    assert process.signals == []
    write_events(events, {"event": "step", "step": target}, partial='{"event": "st')
    stopper(process)
    assert process.signals == [signal.SIGTERM]
    write_events(events, partial='ep", "step": 99}\n')
    stopper(process)
    assert process.signals == [signal.SIGTERM]  # sent once


def test_a_line_still_being_written_is_read_when_complete(tmp_path) -> None:
    events, process = tmp_path / "events.jsonl", RecordingProcess()
    stopper = StopAfterShare(events, 0.5)
    write_events(events, {"event": "start", "total_steps": 4}, partial='{"event": "step", "st')
    stopper(process)
    assert process.signals == []
    write_events(events, partial='ep": 2}\n')
    stopper(process)
    assert process.signals == [signal.SIGTERM]


def test_stage_log_keeps_each_stage_on_disk_including_the_one_that_broke(tmp_path) -> None:
    log = StageLog(tmp_path / "out" / "stages.json", Console(file=io.StringIO()))
    with log.stage("first") as record:
        record["reused"] = False
        on_disk = json.loads((tmp_path / "out" / "stages.json").read_text())["stages"]
        assert on_disk[0]["status"] == "running"
    with pytest.raises(RuntimeError), log.stage("second"):
        raise RuntimeError("the gateway exited")
    stages = json.loads((tmp_path / "out" / "stages.json").read_text())["stages"]
    assert [(s["name"], s["status"]) for s in stages] == [("first", "ok"), ("second", "error")]
    assert stages[0]["reused"] is False and stages[0]["seconds"] >= 0
    assert stages[1]["error"] == "RuntimeError: the gateway exited"
    assert set(log.timings) == {"first", "second"}


def test_the_encoder_travels_in_bf16_and_is_restored_to_float32(tmp_path, demo_gpu) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    prepare_encoder = demo_gpu.prepare_encoder

    folder = tmp_path / "all-minilm-l6-v2"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "1_Pooling" / "config.json").write_text("{}")
    weights = {"w": torch.randn(4, 3).bfloat16(), "ids": torch.arange(5)}
    save_file(weights, folder / "model.safetensors")
    archive = tmp_path / "encoder.tar.xz"
    with tarfile.open(archive, "w:xz") as packed:
        packed.add(folder, arcname=folder.name)

    restored = prepare_encoder(str(archive), tmp_path / "work")
    assert restored == tmp_path / "work" / "encoder"
    assert (restored / "1_Pooling" / "config.json").is_file()
    tensors = load_file(restored / "model.safetensors")
    assert tensors["w"].dtype == torch.float32 and torch.equal(tensors["w"], weights["w"].float())
    assert torch.equal(tensors["ids"], weights["ids"])
    assert prepare_encoder(str(archive), tmp_path / "work") == restored  # unpacked once
    assert prepare_encoder(str(folder), tmp_path / "work") == folder.resolve()
    assert prepare_encoder(None, tmp_path / "work") is None


def test_gpu_memory_peaks_are_taken_within_each_stages_window(demo_gpu) -> None:
    sampler = demo_gpu.GpuMemorySampler()
    sampler.samples = [
        (10.0, 500, {"advisor audit": 0}),
        (11.0, 9000, {"advisor train": 8500}),
        (12.0, 7000, {"advisor train": 6500}),
        (20.0, 16000, {"advisor serve": 15000, "advisor eval": 700}),
    ]
    assert sampler.peaks(10.5, 12.5) == {
        "peak_gpu_memory_mib": 9000,
        "peak_gpu_memory_by_process_mib": {"advisor train": 8500},
    }
    assert sampler.peaks(19.0, 21.0)["peak_gpu_memory_by_process_mib"] == {
        "advisor serve": 15000,
        "advisor eval": 700,
    }
    assert sampler.peaks(13.0, 19.0)["peak_gpu_memory_mib"] is None  # no sample: not zero
