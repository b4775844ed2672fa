"""What an unmerged LoRA adds to a decode step when every operation's fixed cost dominates.

On the GPU, the HF engine's decoding is launch-bound (batch-1 decode at 15 % of the bandwidth
limit, results/inference_gpu.json): a step costs what its operations cost to issue, so an
adapter costs its extra operations and Python, not its arithmetic. This harness reproduces
that regime on a CPU: a Mistral-7B-shaped *layout* (32 layers, seven projections each, 4:1
grouped-query attention) at tiny widths, so each operation's arithmetic is negligible and its
fixed cost is what is timed. It is a proxy for the host side of a GPU decode step, not a GPU
measurement (`inference_gpu.py` is that).

Decode steps of 8 rows over a 64-token cache, in interleaved rounds (each round's median step;
the fastest round of each variant is its figure) of:
  base           the model without peft
  peft           the adapter (r=16, seven projections) through peft's own forward
  lean           the same adapter through engines/hf/lora_fast.py, as the engine runs it
  base-loaded    a base-only batch on the engine once adapters are loaded: peft attached,
                 its LoRA layers switched off (`disable_adapter_layers`), lora_fast installed

    python benchmarks/lora_host_overhead.py --out benchmarks/results/lora_host_overhead_cpu.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "services" / "inference"))

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SHAPE = {
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 224,
    "num_hidden_layers": 32,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "head_dim": 8,
}
ROWS, CONTEXT = 8, 64


def build() -> tuple[Any, Any]:
    """The plain model and a peft model over a copy of it, adapter 'a' (r=16) active."""
    import copy

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    base = MistralForCausalLM(MistralConfig(**SHAPE)).eval()
    config = LoraConfig(r=16, lora_alpha=32, target_modules=TARGETS, init_lora_weights=False)
    adapted = get_peft_model(copy.deepcopy(base), config, adapter_name="a").eval()
    return base, adapted


def decode_steps(model: Any, steps: int, lean: bool) -> list[float]:
    """Seconds per decode step of `ROWS` rows after a `CONTEXT`-token prefill."""
    import torch
    from transformers import DynamicCache

    from advisor_inference.engines.hf import lora_fast
    from advisor_inference.engines.hf.runner import cache_keyword

    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(3, SHAPE["vocab_size"], (ROWS, CONTEXT), generator=generator)
    keyword = cache_keyword(model.get_base_model() if hasattr(model, "get_base_model") else model)
    times = []
    with torch.inference_mode(), lora_fast.use("a") if lean else contextlib.nullcontext():
        cache = DynamicCache()
        out = model(input_ids=ids, use_cache=True, **{keyword: cache})
        token = out.logits[:, -1:].argmax(-1)
        for _ in range(steps):
            started = time.perf_counter()
            out = model(input_ids=token, use_cache=True, **{keyword: cache})
            token = out.logits[:, -1:].argmax(-1)
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    import torch

    from advisor_inference.engines.hf import lora_fast

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)  # one core: less noise, and the regime is per-operation cost
    base, adapted = build()
    lean = build()[1]
    lora_fast.install(lean)
    loaded = build()[1]
    lora_fast.install(loaded)
    loaded.base_model.disable_adapter_layers()
    variants = {
        "base": (base, False),
        "peft": (adapted, False),
        "lean": (lean, True),
        "base-loaded": (loaded, False),
    }
    rounds: dict[str, list[float]] = {name: [] for name in variants}
    for model, lean in variants.values():
        decode_steps(model, 5, lean)  # warm-up
    for _ in range(args.rounds):
        for name, (model, lean) in variants.items():
            rounds[name].append(statistics.median(decode_steps(model, args.steps, lean)))
    # The machine is shared: the least disturbed round estimates each variant's cost (the
    # median of the rounds is recorded too).
    step_ms = {name: min(r) * 1e3 for name, r in rounds.items()}
    median_ms = {name: statistics.median(r) * 1e3 for name, r in rounds.items()}
    report = {
        "command": " ".join(["python", "benchmarks/lora_host_overhead.py", *sys.argv[1:]]),
        "device": "cpu",
        "threads": 1,
        "shape": SHAPE,
        "rows": ROWS,
        "context": CONTEXT,
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
        "step_ms": step_ms,
        "overhead_vs_base": {name: step_ms[name] / step_ms["base"] for name in variants},
        "median_round_step_ms": median_ms,
        "overhead_vs_base_median_rounds": {n: median_ms[n] / median_ms["base"] for n in variants},
        "rounds_step_ms": {name: [t * 1e3 for t in r] for name, r in rounds.items()},
    }
    args.out.write_text(json.dumps(report, indent=1))
    for name in variants:
        print(f"{name:12} {step_ms[name]:7.2f} ms/step  {report['overhead_vs_base'][name]:.2f}x")


if __name__ == "__main__":
    main()
