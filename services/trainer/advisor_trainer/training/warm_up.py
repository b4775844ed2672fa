"""One untrained pass over the session's largest forward pass, before the first step (CUDA).

A pass longer than any before it pays one-off costs in the middle of a run: Unsloth grows its
pinned host buffers for offloaded checkpoints (about 72 MB per layer for 8,800 tokens of a
7B model; pinning gigabytes takes seconds), the CUDA allocator maps new segments, kernels are
tuned for the new shape. Measured on the H200 (benchmarks/trainer_gpu.py, length mix): the
first step longer than all before it took 3.3 s against 0.5-0.6 s for the others. Such a step
also misleads the session budget, which stops the session from measured step times.

So on CUDA the trainer first runs the largest pass of the steps it has left (found by planning
them, a pure function of the data order) forward and backward with its loss scaled by zero,
then drops the gradients. Nothing the run depends on changes: no optimizer step, gradients
set to None, and the random number generators restored (dropout draws during the pass).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..data.batches import autocast_for, forward_inputs, pass_positions, to_device
from ..data.tokenization import TokenizedExample

StepExamples = Sequence[Sequence[TokenizedExample]]


def largest_pass(
    steps: range,
    step_examples: Callable[[int], StepExamples],
    *,
    layout: str | None,
    max_seq_len: int,
    pad_token_id: int,
    rows_per_pass: int | None,
) -> dict[str, Any] | None:
    """The forward pass of `steps` with the most token positions (None when there is none).
    Steps are compared by their planned pass sizes; only the winner's tensors are built."""
    best_step, best_size = None, -1
    for step in steps:
        size = max(
            pass_positions(
                step_examples(step),
                layout=layout,
                max_seq_len=max_seq_len,
                rows_per_pass=rows_per_pass,
            )
        )
        if size > best_size:
            best_step, best_size = step, size
    if best_step is None:
        return None
    passes = forward_inputs(
        step_examples(best_step),
        layout=layout,
        max_seq_len=max_seq_len,
        pad_token_id=pad_token_id,
        rows_per_pass=rows_per_pass,
    )
    return max(passes, key=lambda inputs: inputs["input_ids"].numel())


def warm_up(model: Any, inputs: dict[str, Any], *, device: str, dtype: str) -> None:
    """Forward and backward `inputs` without training: loss x 0, gradients dropped, RNG kept."""
    import torch

    devices = [torch.device(device)] if device.startswith("cuda") else []
    model.train()  # as in training: checkpointing (and its offload) only runs in train mode
    with torch.random.fork_rng(devices=devices):
        with autocast_for(device, dtype):
            loss = model(**to_device(inputs, device), use_cache=False).loss
        (loss * 0.0).backward()
    model.zero_grad(set_to_none=True)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
