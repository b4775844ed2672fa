"""benchmarks/demo_gpu.py on the CPU: the GPU run's path (`advisor demo --profile gpu --base
DIR`, the random Mistral-shaped folder with its BPE tokenizer, the signal handoff, the stage
record) with trainer_gpu's tiny shape instead of 7B, every stage through the real services."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("demo-gpu-smoke")
    out, archive = root / "demo_cpu.json", root / "demo_out.tar.gz"
    command = [
        sys.executable,
        "benchmarks/demo_gpu.py",
        "--device",
        "cpu",
        "--steps",
        "4",
        "--prompts",
        "2",
        "--new-tokens",
        "16",
        "--work-dir",
        str(root / "work"),
        "--out",
        str(out),
        "--archive",
        str(archive),
    ]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1100)
    record = json.loads(out.read_text()) if out.is_file() else {}
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:] + json.dumps(
        record.get("stages"), indent=1
    )
    return record, archive


def test_every_stage_ran_and_is_ok(smoke) -> None:
    record, _ = smoke
    assert record["all_stages_ok"] is True and record["stages_not_reached"] == []
    names = [stage["name"] for stage in record["stages"]]
    assert names == [
        "prepare the base model",
        "audit the training data and gate it",
        "train fine-tuned: two sessions with a handoff",
        "train fine-tuned (gated data): two sessions with a handoff",
        "serve: the gateway with the base and 2 adapters",
        "serve: the auditor API",
        "evaluate: generate, score, judge both orders, audit the answers",
        "report",
    ]
    assert all(stage["status"] == "ok" and stage["seconds"] >= 0 for stage in record["stages"])
    assert not any(stage.get("reused") for stage in record["stages"])


def test_each_fine_tune_is_stopped_by_a_signal_and_resumed_in_a_second_process(smoke) -> None:
    record, _ = smoke
    assert [run["label"] for run in record["training"]] == ["fine-tuned", "fine-tuned (gated data)"]
    for run in record["training"]:
        first, second = run["sessions"]
        assert first["stop_reason"] == "stopped by SIGTERM"
        assert 1 <= first["steps"] < 4
        assert second["first_step"] == first["first_step"] + first["steps"]
        assert second["resumed_from"] and second["stop_reason"] == "finished"
        assert run["global_step"] == run["total_steps"] == 4


def test_the_record_says_what_ran_and_how(smoke) -> None:
    record, archive = smoke
    assert record["command"].startswith("python benchmarks/demo_gpu.py --device cpu")
    assert "--profile gpu --base" in record["demo_command"]
    assert record["model"]["shape"]["num_hidden_layers"] == 2
    tokenizer = record["model"]["tokenizer"]
    assert tokenizer["vocab_size"] <= record["model"]["shape"]["vocab_size"]
    assert 1.0 < tokenizer["tokens_per_word_on_sample"] < 2.0
    assert record["versions"]["torch"] != "absent"
    assert {c["name"] for c in record["evaluation"]["candidates"]} == {
        "base",
        *(run["adapter"] for run in record["training"]),
    }
    with tarfile.open(archive) as packed:
        members = set(packed.getnames())
    assert {"demo/report.md", "demo/stages.json", "demo/demo.log", "demo/logs/eval.log"} <= members
