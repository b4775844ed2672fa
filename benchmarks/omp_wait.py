"""What OpenMP's wait policy costs when processes share a CPU (why the demo sets
OMP_WAIT_POLICY=PASSIVE for the processes it starts).

The demo runs the gateway, the auditor and the evaluator side by side on two cores, and the
machine may be doing other work. torch's CPU threads (GNU OpenMP) spin while they wait for
work by default; when there are more busy threads than cores, a spinning thread holds a core
the computing thread needs. This measures one training step of the embedded model (forward
and backward of two 170-token rows, full gradients) in a fresh process per setting:

- `default`: 2 threads, OpenMP's default wait policy (spin, then sleep);
- `passive`: 2 threads, OMP_WAIT_POLICY=PASSIVE (sleep at once);
- `one-thread`: 1 thread;

each alone and beside `--competitors` processes running the same step in a loop (2 threads,
default policy: another service of the demo, or anyone's job). Wall and CPU seconds per step,
the median of `--steps` steps after a warm-up one; the host's load average is recorded, since
whatever else runs on it is part of the measurement.

    python benchmarks/omp_wait.py --out benchmarks/results/omp_wait.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {
    "default": {"OMP_NUM_THREADS": "2"},
    "passive": {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
    "one-thread": {"OMP_NUM_THREADS": "1"},
}
STEP = """
import json, sys, time
import torch
from transformers import AutoModelForCausalLM
from advisor_shared.models import materialise_smollm2
from advisor_shared.settings import AdvisorSettings
model = AutoModelForCausalLM.from_pretrained(materialise_smollm2(AdvisorSettings().cache_dir))
ids = torch.randint(100, 40000, (2, 170), generator=torch.Generator().manual_seed(0))
steps = int(sys.argv[1])
times = []
for n in range(steps + 1 if steps else 10**9):
    wall, cpu = time.perf_counter(), time.process_time()
    model(ids, labels=ids).loss.backward()
    model.zero_grad(set_to_none=True)
    times.append((time.perf_counter() - wall, time.process_time() - cpu))
    if steps and n == steps:
        break
print(json.dumps({"wall": [t[0] for t in times[1:]], "cpu": [t[1] for t in times[1:]],
                  "threads": torch.get_num_threads()}))
"""


def run_setting(name: str, steps: int, competitors: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    rivals = [
        subprocess.Popen(
            [sys.executable, "-c", STEP, "0"],
            env=env | SETTINGS["default"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(competitors)
    ]
    try:
        time.sleep(15 if competitors else 0)  # the rivals load their model and start stepping
        result = subprocess.run(
            [sys.executable, "-c", STEP, str(steps)],
            env=env | SETTINGS[name],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        for rival in rivals:
            rival.kill()
            rival.wait()
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "setting": name,
        "competitors": competitors,
        "env": SETTINGS[name],
        "threads": measured["threads"],
        "wall_s_per_step": round(statistics.median(measured["wall"]), 3),
        "cpu_s_per_step": round(statistics.median(measured["cpu"]), 3),
        "wall_s": [round(t, 3) for t in measured["wall"]],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--competitors", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/omp_wait.json")
    args = parser.parse_args()
    runs = [
        run_setting(name, args.steps, rivals)
        for rivals in (0, args.competitors)
        for name in SETTINGS
    ]
    result = {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for run in runs:
        print(
            f"{run['setting']:>10} beside {run['competitors']} competitor(s): "
            f"{run['wall_s_per_step']:.2f} s wall, {run['cpu_s_per_step']:.2f} s CPU per step "
            f"(load {run['load_average_1m']})"
        )


if __name__ == "__main__":
    main()
