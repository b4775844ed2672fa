"""A base model or encoder that cannot be had is one line and an exit code, within seconds, from
every command (`advisor train`, `advisor serve`, `advisor eval`): offline with a name that is
not cached, and online with the hub unreachable (where a download used to retry for a minute
and end in a traceback). On a machine without a GPU, `advisor train` without `--base-model`
trains the embedded model and says so."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from advisor_shared.bundle import BundleRef, read_manifest
from advisor_shared.models import EMBEDDED_BASE
from advisor_shared.store import LocalStore
from tests.conftest import CACHE_DIR, free_port
from tests.unit.trainer.trainer_testkit import write_dataset

pytestmark = pytest.mark.integration
ADVISOR = [sys.executable, "-c", "from advisor_shared.cli import main; main()"]
NONSENSE = "nonsense-owner/no-such-model"
LIMIT_S = 15.0


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "ADVISOR_STORE_URL": f"file://{tmp_path / 'store'}",
        "ADVISOR_CACHE_DIR": str(CACHE_DIR),
        "HF_HUB_OFFLINE": "1",
        **extra,
    }
    if extra.get("HF_HUB_OFFLINE") == "":
        del env["HF_HUB_OFFLINE"]  # online: the hub client decides by HF_ENDPOINT
        env.pop("TRANSFORMERS_OFFLINE", None)
    return env


def test_a_model_that_cannot_be_had_is_one_line_within_seconds(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "train.jsonl")
    (tmp_path / "eval.yaml").write_text("dataset: {path: train.jsonl}\ncandidates: [base]\n")
    closed_port = free_port()  # nothing listens there: the hub is unreachable
    cases = {
        "train offline": (
            ["train", "--base-model", NONSENSE, "--dataset", str(dataset)],
            _env(tmp_path),
            "is not in the local Hugging Face cache and the hub is offline",
        ),
        "train, hub unreachable": (
            ["train", "--base-model", NONSENSE, "--dataset", str(dataset)],
            _env(tmp_path, HF_HUB_OFFLINE="", HF_ENDPOINT=f"http://127.0.0.1:{closed_port}"),
            "cannot be reached",
        ),
        "serve offline": (
            ["serve", "--base", NONSENSE, "--port", str(free_port())],
            _env(tmp_path),
            "is not in the local Hugging Face cache and the hub is offline",
        ),
        "eval offline": (
            ["eval", "--config", str(tmp_path / "eval.yaml")],
            _env(tmp_path, ADVISOR_BERTSCORE_ENCODER=NONSENSE),
            "encoder",
        ),
    }
    started = time.monotonic()
    processes = {
        name: subprocess.Popen(
            [*ADVISOR, *args],
            env=env,
            cwd=tmp_path,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name, (args, env, _) in cases.items()
    }
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        elapsed = time.monotonic() - started
        lines = stderr.strip().splitlines()
        assert process.returncode == 2, (name, stderr[-3000:])
        assert "Traceback" not in stderr + stdout, (name, stderr[-3000:])
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, stderr[-3000:])
        assert NONSENSE in lines[0] and cases[name][2] in lines[0], (name, lines[0])
        assert EMBEDDED_BASE in lines[0] or "all-minilm-l6-v2" in lines[0], lines[0]
        assert elapsed < LIMIT_S, f"{name}: {elapsed:.1f} s"


def test_train_without_a_base_model_on_a_cpu_uses_the_embedded_model(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "train.jsonl", count=6)
    done = subprocess.run(
        [
            *ADVISOR,
            "train",
            "--dataset",
            str(dataset),
            "--max-steps",
            "1",
            "--run-name",
            "first",
            "--set",
            "max_seq_len=64",
            "--set",
            "validation_fraction=0",
            "--set",
            "micro_batch_size=1",
            "--set",
            "gradient_accumulation_steps=1",
            "--set",
            "gradient_checkpointing=false",
            "--output-dir",
            str(tmp_path / "out"),
        ],
        # One thread: on a busy 2-core host two threads fighting made the step 15 x slower.
        env={**_env(tmp_path), "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"},
        cwd=tmp_path,
        text=True,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    said = [line for line in done.stderr.splitlines() if "no CUDA GPU here" in line]
    assert said == [
        f"no CUDA GPU here: training the embedded {EMBEDDED_BASE} instead of "
        "mistralai/Mistral-7B-Instruct-v0.3 (choose with --base-model)"
    ]
    manifest = read_manifest(LocalStore(tmp_path / "store"), BundleRef("first", "v0001"))
    assert manifest.base_model.id == EMBEDDED_BASE
