"""Padding micro-batches and the eval loss over the validation split."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from .tokenization import IGNORE_INDEX, TokenizedExample


def collate(examples: Sequence[TokenizedExample], pad_token_id: int) -> dict[str, Any]:
    """Right-pad to the longest example of the micro-batch (never to max_seq_len)."""
    import torch

    width = max(example.length for example in examples)
    input_ids = torch.full((len(examples), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        input_ids[row, : example.length] = torch.tensor(example.input_ids)
        labels[row, : example.length] = torch.tensor(example.labels)
        attention_mask[row, : example.length] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def autocast_for(device: str, dtype: str) -> AbstractContextManager[Any]:
    """Mixed precision on CUDA in the policy's dtype; nothing on the CPU (fp32)."""
    import torch

    if device.startswith("cuda") and dtype in ("bfloat16", "float16"):
        return torch.autocast("cuda", dtype=getattr(torch, dtype))
    return nullcontext()


def evaluation_loss(
    model: Any,
    examples: Sequence[TokenizedExample],
    *,
    micro_batch_size: int,
    pad_token_id: int,
    device: str,
    dtype: str,
) -> float | None:
    """Mean loss per target token over `examples` (None when there are none)."""
    import torch

    ordered = sorted(examples, key=lambda e: (e.length, e.conversation_id))
    total_loss, total_targets = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(ordered), micro_batch_size):
                chunk = ordered[start : start + micro_batch_size]
                targets = sum(e.target_count for e in chunk)
                if not targets:
                    continue
                batch = {k: v.to(device) for k, v in collate(chunk, pad_token_id).items()}
                with autocast_for(device, dtype):
                    # num_items_in_batch=1 makes the model return the summed token loss.
                    loss = model(**batch, num_items_in_batch=1).loss
                total_loss += float(loss)
                total_targets += targets
    finally:
        model.train(was_training)
    return total_loss / total_targets if total_targets else None
