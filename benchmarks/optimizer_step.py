"""The optimizer step alone: per tensor against one flat buffer (advisor_trainer/flat_optimizer.py).

Gradients are random and fixed; each timed step is the trainer's: clip the gradient norm,
step, zero the gradients, synchronised on CUDA. Sets of tensors:

  mistral-7b   the adapter the paper trains: LoRA r=16 on the seven projections of 32 layers,
               448 tensors, 41,943,040 values
  tiny-448     448 tensors of 4,096 values: the same count of tensors with almost no
               arithmetic, so what is left is each tensor's fixed cost (Python, launches,
               bitsandbytes' device sync after each tensor)

Optimizers: bitsandbytes' 8-bit AdamW (the trainer's on CUDA; its CPU build elsewhere) and
torch's AdamW (the trainer's on CPU). The per-tensor and flat updates are checked to be equal
to the bit before any time is reported.

    # on a CPU, bitsandbytes' CPU build from beside the environment (make install puts it there)
    PYTHONPATH=.venv/bitsandbytes-cpu python benchmarks/optimizer_step.py \
        --out benchmarks/results/optimizer_step_cpu.json
    python benchmarks/optimizer_step.py --out benchmarks/results/optimizer_step_gpu.json  # CUDA
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "services" / "trainer"))

from advisor_trainer.flat_optimizer import FlatOptimizer  # noqa: E402
from advisor_trainer.optimizers import MIN_8BIT_SIZE  # noqa: E402

HIDDEN, KV, INTERMEDIATE, LAYERS, RANK = 4096, 1024, 14336, 32, 16
PROJECTIONS = {"q": (HIDDEN, HIDDEN), "k": (HIDDEN, KV), "v": (HIDDEN, KV), "o": (HIDDEN, HIDDEN),
               "gate": (HIDDEN, INTERMEDIATE), "up": (HIDDEN, INTERMEDIATE),
               "down": (INTERMEDIATE, HIDDEN)}  # fmt: skip


SETS = ("mistral-7b", "tiny-448")


def shapes(name: str) -> list[tuple[int, ...]]:
    if name == "tiny-448":
        return [(16, 256)] * 448
    per_layer = [s for fan_in, fan_out in PROJECTIONS.values()
                 for s in ((RANK, fan_in), (fan_out, RANK))]  # fmt: skip
    return per_layer * LAYERS


def optimizers(device: str) -> dict[str, tuple[Any, int]]:
    """(make, min_numel) of each optimizer that can run here."""
    import torch

    found: dict[str, tuple[Any, int]] = {
        "adamw_torch": (lambda t: torch.optim.AdamW(t, lr=2e-4), 0)
    }
    try:
        import bitsandbytes as bnb

        found["adamw_8bit"] = (
            lambda t: bnb.optim.AdamW8bit(t, lr=2e-4, min_8bit_size=MIN_8BIT_SIZE),
            MIN_8BIT_SIZE,
        )
    except ImportError:
        print("bitsandbytes absent: adamw_8bit not measured", file=sys.stderr)
    return found


def measure(
    set_name: str, make: Any, min_numel: int, flat: bool, args: argparse.Namespace
) -> dict[str, Any]:
    import torch

    generator = torch.Generator(device="cpu").manual_seed(0)
    params = [torch.nn.Parameter((torch.randn(s, generator=generator) * 0.02).to(args.device))
              for s in shapes(set_name)]  # fmt: skip
    grads = [torch.randn(s, generator=generator).to(args.device) * 1e-3 for s in shapes(set_name)]
    opt = FlatOptimizer(make, params, min_numel=min_numel) if flat else make(params)
    times = []
    for step in range(args.warmup + args.steps):
        for p, g in zip(params, grads, strict=True):
            if p.grad is None:
                p.grad = g.clone()
            else:
                p.grad.copy_(g)  # what the backward leaves (in place into the flat buffer)
        sync(args.device)
        started = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(params, 0.3)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(args.device)
        if step >= args.warmup:
            times.append(time.perf_counter() - started)
    return {"median_step_ms": statistics.median(times) * 1e3, "step_ms": [t * 1e3 for t in times],
            "params": [p.detach().cpu() for p in params]}  # fmt: skip


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--sets", default=",".join(SETS), help=f"comma-separated, of: {', '.join(SETS)}"
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    unknown = sorted(set(args.sets.split(",")) - set(SETS))
    if unknown:
        parser.error(f"unknown --sets {', '.join(unknown)}; known: {', '.join(SETS)}")
    torch.manual_seed(0)
    results: dict[str, Any] = {}
    available = optimizers(args.device)
    for set_name in args.sets.split(","):
        tensors = shapes(set_name)
        for optimizer, (make, min_numel) in available.items():
            runs = {layout: measure(set_name, make, min_numel, layout == "flat", args)
                    for layout in ("per_tensor", "flat")}  # fmt: skip
            identical = all(torch.equal(a, b) for a, b in
                            zip(runs["per_tensor"].pop("params"), runs["flat"].pop("params"),
                                strict=True))  # fmt: skip
            if not identical:
                raise SystemExit(f"{set_name}/{optimizer}: flat and per-tensor updates differ")
            per_tensor, flat = runs["per_tensor"]["median_step_ms"], runs["flat"]["median_step_ms"]
            results[f"{set_name}/{optimizer}"] = {
                "tensors": len(tensors), "values": sum(torch.Size(s).numel() for s in tensors),
                "updates_identical": identical, "per_tensor": runs["per_tensor"],
                "flat": runs["flat"], "speedup": per_tensor / flat,
                "saved_ms_per_step": per_tensor - flat,
            }  # fmt: skip
            print(f"{set_name:11} {optimizer:11} per tensor {per_tensor:8.2f} ms  "
                  f"flat {flat:8.2f} ms  ({per_tensor / flat:.2f}x)")  # fmt: skip
    versions = {"python": platform.python_version(), "torch": torch.__version__}
    try:
        import bitsandbytes

        versions["bitsandbytes"] = bitsandbytes.__version__
    except ImportError:
        versions["bitsandbytes"] = "absent"
    device_name = (
        torch.cuda.get_device_name()
        if args.device.startswith("cuda")
        else platform.processor() or "cpu"
    )
    report = {
        "command": " ".join(["python", "benchmarks/optimizer_step.py", *sys.argv[1:]]),
        "device": device_name, "threads": torch.get_num_threads(), "versions": versions,
        "steps": args.steps, "warmup": args.warmup, "results": results,
    }  # fmt: skip
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
