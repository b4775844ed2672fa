"""docs/reliability.md, X2 (issue 2's guarantees, counted): one training run of the tiny model
stopped >= 10 times mid-run by SIGTERM or SIGKILL (alternating, at seeded random steps), each time
resumed by a new process with `--resume auto`, then run to the end. Figure: steps lost per signal
(SIGTERM 0, SIGKILL <= the checkpoint interval) and the run finishing at its full length."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import pytest

from advisor_shared.bundle import BundleRef, read_bundle
from advisor_shared.store import LocalStore
from tests.integration.reliability.services import figure
from tests.integration.trainer.test_trainer_process_handoff import (
    completed_steps,
    start_trainer,
    wait_for_step,
    write_config,
)
from tests.unit.trainer.trainer_testkit import tiny_config, write_dataset

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(1200)]
RUNS = int(os.environ.get("ADVISOR_CHAOS_RUNS", "10"))  # fewer for a quick try
INTERVAL = 4


def test_x2_trainer_stopped_and_resumed_ten_times(tiny_model_dir, tmp_path: Path, capsys) -> None:
    rng = random.Random(2)
    dataset = write_dataset(tmp_path / "train.jsonl")
    # 10 steps per epoch x 10 epochs, a checkpoint every INTERVAL steps.
    config = tiny_config(
        tiny_model_dir,
        dataset,
        tmp_path / "out",
        num_train_epochs=10,
        gradient_accumulation_steps=1,
        micro_batch_size=2,
        checkpoint_every_steps=INTERVAL,
        checkpoint_async=False,
    )
    config_path = write_config(tmp_path / "run.yaml", config)
    store = LocalStore(tmp_path / "store")
    lost: dict[str, list[int]] = {"SIGTERM": [], "SIGKILL": []}
    resume_points: list[int] = []
    committed = 0
    for run in range(RUNS):
        sig = signal.SIGTERM if run % 2 == 0 else signal.SIGKILL
        events = tmp_path / f"run{run}.jsonl"
        extra = ("--resume", "auto") if run else ()
        process = start_trainer(config_path, store.root, events, *extra)
        wait_for_step(process, events, committed + rng.randint(2, 6), timeout=300)
        process.send_signal(sig)
        code = process.wait(timeout=120)
        if sig == signal.SIGTERM:
            assert code == 0, process.stdout.read().decode()[-3000:]
        last = completed_steps(events)[-1]
        state = read_bundle(store, BundleRef("tiny-run"), tmp_path / f"r{run}").trainer_state
        committed = state["global_step"]
        lost[sig.name].append(last - committed)
        resume_points.append(committed)
    final_process = start_trainer(
        config_path, store.root, tmp_path / "final.jsonl", "--resume", "auto"
    )
    assert final_process.wait(timeout=600) == 0, final_process.stdout.read().decode()[-3000:]
    final = read_bundle(store, BundleRef("tiny-run"), tmp_path / "final").trainer_state
    total = 100
    first_steps = [s["first_step"] for s in final["sessions"]]
    ledger = [h["step"] for h in final["loss_history"]]
    repeated = len(ledger) - len(set(ledger))
    text = (
        f"{RUNS} runs stopped mid-run ({len(lost['SIGTERM'])} SIGTERM, "
        f"{len(lost['SIGKILL'])} SIGKILL, checkpoint every {INTERVAL} steps) and resumed: "
        f"steps lost per SIGTERM {lost['SIGTERM']}, per SIGKILL {lost['SIGKILL']}; "
        f"finished at step {final['global_step']}/{total} over {len(first_steps)} "
        f"sessions, ledger {len(set(ledger))} steps, {repeated} recorded twice"
    )
    ok = (
        all(n == 0 for n in lost["SIGTERM"])
        and all(0 <= n <= INTERVAL for n in lost["SIGKILL"])
        and final["global_step"] == total
        and first_steps[0] == 0
        and set(first_steps[1:]) <= set(resume_points)
        and sorted(ledger) == list(range(1, total + 1))
    )
    with capsys.disabled():
        figure(
            "X2 trainer SIGTERM/SIGKILL and resume",
            text,
            runs=RUNS,
            faults=RUNS,
            lost=sum(lost["SIGTERM"]),
            duplicated=repeated,
            ok=ok,
        )
    assert lost["SIGTERM"] == [0] * len(lost["SIGTERM"]), text
    assert all(0 <= n <= INTERVAL for n in lost["SIGKILL"]), text
    assert final["global_step"] == total, text
    # A session SIGKILLed before its first checkpoint commits nothing and leaves no ledger entry.
    assert first_steps[0] == 0 and set(first_steps[1:]) <= set(resume_points), text
    assert sorted(ledger) == list(range(1, total + 1)), text
