"""Padding-free packing: the conversations of one optimizer step share rows, none attends across.

Real advising conversations are far shorter than `max_seq_len` and vary widely (docs/gpu.md: padding
every micro-batch to its longest wastes most of the compute). Packing keeps the optimizer step
exactly as the data order defines it (the same conversations, so the LR schedule, the ledger and
the resume guarantees do not change) and only changes how the step's conversations are laid out
for the forward passes:

1. first-fit decreasing puts the step's conversations into rows of at most `max_seq_len` tokens
   (longest first, ties in step order): a pure function of the step's conversations, hence of
   (seed, epoch) like the step itself;
2. rows go, in that order, into forward passes of at most `micro_batch_size` rows, so a forward
   never holds more tokens than an unpacked micro-batch at full length.

Attention must not cross conversations. Two layouts do that, chosen by the backend:

- `rows` (transformers models): position ids restart at 0 for every conversation and neither
  a 2-D attention mask nor a KV cache is passed (`use_cache=False`); transformers' mask builder
  then reads the boundaries from the position ids (`masking_utils.find_packed_sequence_indices`)
  and builds a block-diagonal causal mask for SDPA/eager attention. A row shorter than the longest of its forward is
  completed with padding that forms a segment of its own (positions restart), loss ignored.
- `flat` (Unsloth): the rows of a forward are concatenated into one row without padding, and
  `packed_seq_lengths` gives Unsloth the conversation lengths, which its attention dispatch
  turns into variable-length (block-diagonal) attention; Unsloth's own padding-free path.

The first label of every conversation is ignored, so the last token of one conversation is
never trained to predict the first token of the next; the loss of a packed step equals the
unpacked one (`TokenizedExample.target_count` never counted that label).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .tokenization import IGNORE_INDEX, TokenizedExample

Row = list[TokenizedExample]
LAYOUTS = ("rows", "flat")
# Attention implementations whose masks transformers builds through masking_utils, which
# detects packed rows from position ids (transformers >= 4.56).
PACKED_MASK_ATTENTION = (
    "sdpa",
    "eager",
    "flex_attention",
    "flash_attention_2",
    "flash_attention_3",
)


def pack_rows(examples: Sequence[TokenizedExample], max_seq_len: int) -> list[Row]:
    """First-fit decreasing into rows of at most `max_seq_len` tokens (deterministic)."""
    ordered = sorted(range(len(examples)), key=lambda i: (-examples[i].length, i))
    rows: list[Row] = []
    room: list[int] = []
    for index in ordered:
        example = examples[index]
        size = min(example.length, max_seq_len)
        for slot, free in enumerate(room):
            if size <= free:
                rows[slot].append(example)
                room[slot] -= size
                break
        else:
            rows.append([example])
            room.append(max_seq_len - size)
    return rows


def plan_forward_passes(
    examples: Sequence[TokenizedExample], *, max_seq_len: int, micro_batch_size: int
) -> list[list[Row]]:
    """The forward passes of one step: rows of `pack_rows`, `micro_batch_size` rows per pass."""
    rows = pack_rows(examples, max_seq_len)
    return [rows[i : i + micro_batch_size] for i in range(0, len(rows), micro_batch_size)]


def is_plain_batch(rows: Sequence[Row]) -> bool:
    """One conversation per row, all of one length: an ordinary batch, nothing to pack."""
    return all(len(row) == 1 for row in rows) and len({row[0].length for row in rows}) == 1


def collate_packed(rows: Sequence[Row], layout: str, pad_token_id: int) -> dict[str, Any]:
    """Tensors of one forward pass in `layout` ('rows' or 'flat'), see the module docstring."""
    import torch

    if layout not in LAYOUTS:
        raise ValueError(f"unknown packing layout {layout!r}")
    if is_plain_batch(rows):
        ids = torch.tensor([row[0].input_ids for row in rows], dtype=torch.long)
        labels = torch.tensor([row[0].labels for row in rows], dtype=torch.long)
        return {"input_ids": ids, "labels": labels}
    if layout == "flat":
        rows = [[example for row in rows for example in row]]
    width = max(sum(example.length for example in row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    position_ids = torch.zeros((len(rows), width), dtype=torch.long)
    lengths: list[int] = []
    for r, row in enumerate(rows):
        offset = 0
        for example in row:
            end = offset + example.length
            input_ids[r, offset:end] = torch.tensor(example.input_ids)
            labels[r, offset:end] = torch.tensor(example.labels)
            labels[r, offset] = IGNORE_INDEX  # never predicted from the previous conversation
            position_ids[r, offset:end] = torch.arange(example.length)
            lengths.append(example.length)
            offset = end
        if offset < width:  # padding: a segment of its own, positions restart, no loss
            position_ids[r, offset:] = torch.arange(width - offset)
    batch = {"input_ids": input_ids, "labels": labels, "position_ids": position_ids}
    if layout == "flat":
        batch["packed_seq_lengths"] = torch.tensor(lengths, dtype=torch.int32)
    return batch


def rows_layout_supported(model: Any) -> bool:
    """Whether transformers builds this model's attention mask from packed position ids."""
    try:
        from transformers.masking_utils import find_packed_sequence_indices  # noqa: F401
    except ImportError:
        return False
    config = getattr(model, "config", None)
    return getattr(config, "_attn_implementation", None) in PACKED_MASK_ATTENTION


def packed_row_width_bound(lengths: Sequence[int], *, max_seq_len: int, step_size: int) -> int:
    """Upper bound on the width of a packed row, for the memory estimate: a row holds at most
    `max_seq_len` tokens and at most the `step_size` longest conversations of the data."""
    longest = sorted(lengths, reverse=True)[:step_size]
    return min(max_seq_len, sum(min(n, max_seq_len) for n in longest)) if longest else 0
