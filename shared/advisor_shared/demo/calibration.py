"""How long one training step takes on this machine, measured before the first session so its
wall-clock budget can end it mid-run (the handoff must happen on a fast laptop and a slow one)."""

from __future__ import annotations

import time
from pathlib import Path

# A LoRA step is one forward, a recomputed forward and a backward through frozen weights:
# about three forward passes of work (the same accounting as the GPU benchmark's 6·N).
FORWARDS_PER_STEP = 3.0


def estimate_step_seconds(
    model_dir: Path, micro_batch: int, seq_len: int, accumulation: int
) -> float:
    """Time one forward pass of a full micro-batch (after a warm-up) and scale to a step."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    ids = torch.randint(10, model.config.vocab_size - 1, (micro_batch, seq_len))
    timings = []
    with torch.no_grad():
        model(input_ids=ids)  # warm-up at the timed shape: kernels are chosen per shape
        for _ in range(2):  # the faster of two: a busy neighbour inflates one reading
            started = time.perf_counter()
            model(input_ids=ids)
            timings.append(time.perf_counter() - started)
    return FORWARDS_PER_STEP * min(timings) * accumulation


def measured_step_seconds(events_path: Path) -> float | None:
    """The median step time a finished session recorded in its events file, if any."""
    import json
    import statistics

    if not events_path.is_file():
        return None
    times = [
        event["step_time_s"]
        for event in map(json.loads, events_path.read_text().splitlines())
        if event.get("event") == "step" and event.get("step_time_s")
    ]
    return statistics.median(times) if times else None
