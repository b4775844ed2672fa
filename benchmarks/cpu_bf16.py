"""What bf16 saves on a CPU that computes it natively (AMX or AVX-512 BF16), for the embedded
model, on the two jobs the demo spends its time on:

- `train`: one LoRA training step as the trainer's cpu-lora backend runs it (the project's
  `cpu_lora.load` and `autocast_for`: the frozen base in the dtype, LoRA weights in fp32, r=16
  on all seven projections) on two rows of 256 tokens, forward and backward;
- `decode`: greedy decoding of 16 chat prompts at once, 128 new tokens each, through
  transformers' `generate` on the model loaded in the dtype (the gateway's HF engine chooses
  the same dtype, `choose_device`).

Each setting runs in a fresh process, fp32 and bf16 alternating `--repeats` times; the median
of each is reported. CPU seconds are the process's own (user + system), which other work on a
shared host disturbs less than wall seconds; both are recorded, with the load average, and the
ratio bf16 / fp32 is taken within this one run.

    python benchmarks/cpu_bf16.py --out benchmarks/results/cpu_bf16.json
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

TRAIN = """
import json, sys, time, torch
from advisor_shared.models import materialise_smollm2
from advisor_shared.settings import AdvisorSettings
from advisor_trainer.backends import cpu_lora
from advisor_trainer.config import TrainingJobConfig
from advisor_trainer.data.batches import autocast_for
dtype, steps = sys.argv[1], int(sys.argv[2])
location = str(materialise_smollm2(AdvisorSettings().cache_dir))
config = TrainingJobConfig(base_model=location, dataset="unused.jsonl", run_name="bench")
loaded = cpu_lora.load(config, location, dtype)
torch.manual_seed(0)
ids = torch.randint(0, 49000, (2, 256))
def step():
    with autocast_for("cpu", dtype):
        loss = loaded.model(input_ids=ids, labels=ids).loss
    loss.backward()
step()
wall, cpu = [], []
for _ in range(steps):
    w, c = time.perf_counter(), time.process_time()
    step()
    wall.append(time.perf_counter() - w); cpu.append(time.process_time() - c)
print(json.dumps({"wall_s": wall, "cpu_s": cpu}))
"""

DECODE = """
import json, sys, time, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from advisor_shared.models import materialise_smollm2
from advisor_shared.settings import AdvisorSettings
dtype, tokens = sys.argv[1], int(sys.argv[2])
location = str(materialise_smollm2(AdvisorSettings().cache_dir))
tokenizer = AutoTokenizer.from_pretrained(location, padding_side="left")
model = AutoModelForCausalLM.from_pretrained(location, dtype=getattr(torch, dtype)).eval()
questions = [f"What must I show for a student visa, question {i}?" for i in range(16)]
prompts = [tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False,
           add_generation_prompt=True) for q in questions]
batch = tokenizer(prompts, return_tensors="pt", padding=True)
with torch.inference_mode():
    model.generate(**batch, max_new_tokens=4, do_sample=False)
    w, c = time.perf_counter(), time.process_time()
    model.generate(**batch, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
print(json.dumps({"wall_s": [time.perf_counter() - w], "cpu_s": [time.process_time() - c]}))
"""


def run(code: str, dtype: str, size: int) -> dict[str, list[float]]:
    env = os.environ | {"OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [sys.executable, "-c", code, dtype, str(size)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per setting")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per run")
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per decode run")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/cpu_bf16.json")
    args = parser.parse_args()

    from advisor_shared.cpu_precision import cpu_has_native_bf16

    if not cpu_has_native_bf16():
        sys.exit("this CPU has neither AMX nor AVX-512 BF16: bf16 would be emulated here")
    samples: dict[str, dict[str, list[float]]] = {}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeats):
        for job, code, size in (("train", TRAIN, args.steps), ("decode", DECODE, args.tokens)):
            for dtype in ("float32", "bfloat16"):
                got = run(code, dtype, size)
                entry = samples.setdefault(f"{job}/{dtype}", {"wall_s": [], "cpu_s": []})
                for key in entry:
                    entry[key] += got[key]
                print(f"{job} {dtype}: cpu {statistics.median(got['cpu_s']):.2f} s", flush=True)
    medians = {
        name: {key: round(statistics.median(values), 3) for key, values in entry.items()}
        for name, entry in samples.items()
    }
    ratios = {
        job: {
            key: round(medians[f"{job}/bfloat16"][key] / medians[f"{job}/float32"][key], 3)
            for key in ("cpu_s", "wall_s")
        }
        for job in ("train", "decode")
    }
    result = {
        "command": "python benchmarks/cpu_bf16.py " + " ".join(sys.argv[1:]),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "sizes": {
            "train_rows": 2,
            "train_tokens": 256,
            "decode_rows": 16,
            "new_tokens": args.tokens,
        },
        "median": medians,
        "ratio_bf16_over_fp32": ratios,
        "samples": samples,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(ratios))


if __name__ == "__main__":
    main()
