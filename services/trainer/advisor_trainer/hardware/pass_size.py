"""How many packed rows one forward pass holds, chosen from the memory measured after loading.

`micro_batch_size x max_seq_len` is the shape the memory check (memory.py) guarantees before
anything loads. With packing, a step's conversations lie in rows of up to `max_seq_len` tokens,
and how many of those rows share a forward pass is free: every pass pays a fixed cost (each
4-bit weight is dequantised for the forward, the recomputation and the backward, whatever the
number of tokens), so fewer, fuller passes train faster on short conversations. The step and
its gradient do not change: the loss is normalised by the step's target tokens, not per pass.

Unless `rows_per_pass` is configured, with the `flat` layout (Unsloth: one row per pass,
variable-length attention, memory linear in the tokens) the trainer measures the memory still
free once the model and LoRA are loaded and takes as many rows as fit:

    rows = (free x HEADROOM - LoRA gradients and optimizer state) // bytes per row

(bytes per row: memory.bytes_per_row at the plan's row width), at least `micro_batch_size`
and at most the step's conversations (each fills at most one row). Measured on the H200
(benchmarks/trainer_gpu.py, 7B shape, the length mix, in two runs): Unsloth went from 4,456
tokens/s with two or three passes per step to 9,497 with all 8 rows in one pass (and flash
varlen attention). The `rows` layout (transformers' masked SDPA) went the other way, 3,317 to
2,262 tokens/s with 17 GB reserved, so it keeps `micro_batch_size` rows per pass, as does
the CPU.
"""

from __future__ import annotations

# Of the free memory measured after loading: room for fragmentation and what the first steps
# allocate beside the pass (the optimizer's state appears at the first step).
HEADROOM = 0.8


def choose_rows_per_pass(
    *,
    configured: int | None,
    micro_batch_size: int,
    step_rows: int,
    free_bytes: float | None,
    reserved_bytes: float,
    row_bytes: float,
) -> int:
    """Rows per forward pass: `configured` when set, else as many as `free_bytes` holds
    (None = not measured: `micro_batch_size`), within [micro_batch_size, step_rows]."""
    if configured is not None:
        return configured
    if free_bytes is None or row_bytes <= 0:
        return micro_batch_size
    fit = int((free_bytes * HEADROOM - reserved_bytes) // row_bytes)
    return max(micro_batch_size, min(step_rows, fit))


def measured_free_bytes(device: str) -> float | None:
    """Bytes this process can still allocate on `device` (CUDA: the driver's free memory
    plus what torch's cache holds unused); None off CUDA."""
    if not device.startswith("cuda"):
        return None
    import torch

    free, _total = torch.cuda.mem_get_info(torch.device(device))
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return float(free + cached)
