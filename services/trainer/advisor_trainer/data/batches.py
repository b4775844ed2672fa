"""The tensors of forward passes (padded or packed) and the eval loss over the validation split."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from .packing import Row, collate_packed, plan_forward_passes
from .tokenization import IGNORE_INDEX, TokenizedExample

# Stays on the host: Unsloth stages the conversation lengths itself (one pinned copy).
HOST_KEYS = ("packed_seq_lengths",)


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


def forward_inputs(
    micro_batches: Sequence[Sequence[TokenizedExample]],
    *,
    layout: str | None,
    max_seq_len: int,
    pad_token_id: int,
    rows_per_pass: int | None = None,
) -> list[dict[str, Any]]:
    """The forward passes of one step: its micro-batches padded (`layout` None) or its
    conversations packed in `layout` with at most `rows_per_pass` rows per pass (default:
    the micro-batch size)."""
    if layout is None:
        return [collate(batch, pad_token_id) for batch in micro_batches]
    plan = _packed_plan(micro_batches, max_seq_len, rows_per_pass)
    return [collate_packed(rows, layout, pad_token_id) for rows in plan]


def pass_positions(
    micro_batches: Sequence[Sequence[TokenizedExample]],
    *,
    layout: str | None,
    max_seq_len: int,
    rows_per_pass: int | None = None,
) -> list[int]:
    """Token positions (rows x width) of each pass `forward_inputs` would build, without
    building any tensor: a flat pass is one row of all its tokens, the others are padded to
    their longest row."""
    if layout is None:
        return [len(batch) * max(e.length for e in batch) for batch in micro_batches]
    plan = _packed_plan(micro_batches, max_seq_len, rows_per_pass)
    widths = [[sum(e.length for e in row) for row in rows] for rows in plan]
    if layout == "flat":
        return [sum(row_widths) for row_widths in widths]
    return [len(row_widths) * max(row_widths) for row_widths in widths]


def _packed_plan(
    micro_batches: Sequence[Sequence[TokenizedExample]], max_seq_len: int, rows_per_pass: int | None
) -> list[list[Row]]:
    examples = [example for batch in micro_batches for example in batch]
    rows_per_pass = rows_per_pass or max(len(batch) for batch in micro_batches)
    return plan_forward_passes(examples, max_seq_len=max_seq_len, micro_batch_size=rows_per_pass)


def to_device(inputs: dict[str, Any], device: str) -> dict[str, Any]:
    return {k: v if k in HOST_KEYS else v.to(device) for k, v in inputs.items()}


def autocast_for(device: str, dtype: str) -> AbstractContextManager[Any]:
    """Mixed precision in the policy's dtype: fp16 or bf16 on CUDA, bf16 on a CPU that computes
    it natively; nothing in fp32."""
    import torch

    if device.startswith("cuda") and dtype in ("bfloat16", "float16"):
        return torch.autocast("cuda", dtype=getattr(torch, dtype))
    if device == "cpu" and dtype == "bfloat16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def evaluation_loss(
    model: Any,
    examples: Sequence[TokenizedExample],
    *,
    micro_batch_size: int,
    pad_token_id: int,
    device: str,
    dtype: str,
    layout: str | None = None,
    max_seq_len: int | None = None,
    rows_per_pass: int | None = None,
) -> float | None:
    """Mean loss per target token over `examples` (None when there are none); packed in
    `layout` like training when given."""
    import torch

    ordered = sorted(examples, key=lambda e: (e.length, e.conversation_id))
    if not any(e.target_count for e in ordered):
        return None
    chunks = [ordered[i : i + micro_batch_size] for i in range(0, len(ordered), micro_batch_size)]
    passes = forward_inputs(
        chunks,
        layout=layout,
        max_seq_len=max_seq_len or max(e.length for e in ordered),
        pad_token_id=pad_token_id,
        rows_per_pass=rows_per_pass,
    )
    total_loss = 0.0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for inputs in passes:
                if not bool((inputs["labels"][:, 1:] != IGNORE_INDEX).any()):
                    continue
                with autocast_for(device, dtype):
                    # num_items_in_batch=1 makes the model return the summed token loss.
                    loss = model(
                        **to_device(inputs, device), use_cache=False, num_items_in_batch=1
                    ).loss
                total_loss += float(loss)
    finally:
        model.train(was_training)
    return total_loss / sum(e.target_count for e in ordered)
