"""One optimizer step over a list of micro-batches: the training loop's inner work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backends import LoadedModel
from ..data.batches import autocast_for, forward_inputs, to_device
from ..data.tokenization import TokenizedExample


def optimizer_step(
    loaded: LoadedModel,
    optimizer: Any,
    scaler: Any,
    trainable: list[Any],
    micro_batches: Sequence[Sequence[TokenizedExample]],
    *,
    lr: float,
    max_grad_norm: float,
    pad_token_id: int,
    max_seq_len: int,
    rows_per_pass: int | None = None,
) -> tuple[float, float]:
    """Accumulate the step's forward passes (packed when the backend packs), clip, step;
    return (mean target-token loss, grad norm)."""
    import torch

    # The loss is normalised by the target tokens of the whole step, not per forward pass, so
    # accumulation gives the gradient of the mean over the step's tokens, packed or not.
    targets = sum(e.target_count for batch in micro_batches for e in batch)
    for group in optimizer.param_groups:
        group["lr"] = lr
    passes = forward_inputs(
        micro_batches,
        layout=loaded.packing,
        max_seq_len=max_seq_len,
        pad_token_id=pad_token_id,
        rows_per_pass=rows_per_pass,
    )
    losses = []
    for inputs in passes:
        tensors = to_device(inputs, loaded.device)
        with autocast_for(loaded.device, loaded.dtype):
            # No KV cache: transformers detects packed rows only when none is passed.
            loss = loaded.model(**tensors, use_cache=False, num_items_in_batch=targets).loss
        scaler.scale(loss).backward()
        losses.append(loss.detach())
    scaler.unscale_(optimizer)
    grad_norm = torch.nn.utils.clip_grad_norm_(trainable, max_grad_norm)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    # Read back only now: a device sync before the update would leave the GPU idle while the
    # host issues the optimizer's kernels; here the host queues them behind the backward.
    return float(torch.stack(losses).sum()), float(grad_norm)
