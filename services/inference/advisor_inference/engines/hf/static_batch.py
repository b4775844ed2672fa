"""The running batch when decoding over the static KV cache (`static_decode`).

Row `i` of the batch lives in cache slot `i`. New rows are prefilled by the ordinary forward
(left-padded, as `ActiveBatch` does) and their keys/values copied into the next free slots; a
finished row's slot is refilled by moving a later row down, so the live rows stay in slots
`0..n-1`. Every row of one batch runs the same model instance and adapter (a graph computes
one adapter), which the scheduler ensures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .batch import Detokenize, Forward, advance_rows, left_padded
from .sequence import Sequence

# (ids, positions) -> logits [rows, vocab], through the static cache.
Decode = Callable[[list[int], list[int]], torch.Tensor]


class StaticBatch:
    def __init__(
        self,
        instance: str,
        adapter: str | None,
        store_prompt: Callable[..., None],
        move: Callable[[int, int, int], None],
    ):
        self.instance, self.adapter = instance, adapter
        self._store_prompt, self._move = store_prompt, move
        self.rows: list[Sequence] = []
        self.lengths: list[int] = []  # cached positions per row = the next token's position
        self.last_logits: torch.Tensor | None = None

    def admit(self, rows: list[Sequence], forward: Forward, pad_id: int, cache: Any) -> None:
        """Prefill `rows` together and append them (their cache in the next free slots)."""
        ids, mask, positions = left_padded(rows, pad_id)
        width = ids.shape[1]
        logits = forward(ids, mask, positions, cache, [r.adapter for r in rows])
        first = len(self.rows)
        for i, row in enumerate(rows):
            n = len(row.prompt_ids)
            self._store_prompt(
                first + i,
                [layer.keys[i, :, width - n :] for layer in cache.layers],
                [layer.values[i, :, width - n :] for layer in cache.layers],
            )
            self.lengths.append(n)
        self.rows = self.rows + rows
        self.last_logits = (
            logits if self.last_logits is None else torch.cat([self.last_logits, logits])
        )

    def step(self, decode: Decode, detokenize: Detokenize, eos_ids: set[int]) -> None:
        """Pick every row's next token, emit text, drop finished rows, run the next step."""
        assert self.last_logits is not None, "admit rows before stepping"
        # `last_logits` may be a view of a captured graph's output, which `decode` below
        # overwrites: advance_rows reads everything it needs from it first.
        tokens = advance_rows(self.rows, self.last_logits, detokenize, eos_ids)
        keep = [i for i, row in enumerate(self.rows) if not row.done]
        if len(keep) < len(self.rows):
            # Slots in increasing order: slot `target` is free or already moved down.
            for target, source in enumerate(keep):
                if source != target:
                    self._move(source, target, self.lengths[source])
            self.rows = [self.rows[i] for i in keep]
            self.lengths = [self.lengths[i] for i in keep]
            tokens = [tokens[i] for i in keep]
        if not self.rows:
            self.last_logits = None
            return
        self.last_logits = decode(tokens, self.lengths)
        self.lengths = [n + 1 for n in self.lengths]
