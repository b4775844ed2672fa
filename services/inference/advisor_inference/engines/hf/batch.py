"""A batch of sequences decoding together, step by step, over one shared KV cache.

Rows are left-padded so every row's newest token sits in the last column. New requests join a
running batch (their prefill is merged in by left-padding the shorter cache), finished rows are
dropped at once, and columns that became padding for every row are cropped, so a long request
does not make the short ones behind it pay for its length.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..base import FinishReason, StreamDelta
from .sampling import StepLogprobs, choose_next_tokens, step_logprobs
from .sequence import Sequence

Forward = Callable[..., torch.Tensor]
Detokenize = Callable[[list[int]], str]


def _left_pad(tensor: torch.Tensor, amount: int, dim: int) -> torch.Tensor:
    if amount == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = amount
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


class ActiveBatch:
    """Decoding state of rows that share one model instance. `cache` is a transformers
    DynamicCache (typed loosely: its layer classes are a union mypy cannot narrow)."""

    def __init__(
        self,
        rows: list[Sequence],
        cache: Any,
        mask: torch.Tensor,
        positions: torch.Tensor,
        last_logits: torch.Tensor,
    ):
        self.rows, self.cache, self.mask = rows, cache, mask
        self.positions, self.last_logits = positions, last_logits
        # Prompt tokens its prefill did not compute: a shared start, once instead of per row.
        self.tokens_saved = 0

    @property
    def instance(self) -> str:
        return self.rows[0].instance

    @classmethod
    def prefill(
        cls, rows: list[Sequence], forward: Forward, pad_id: int, cache: Any
    ) -> ActiveBatch:
        """Run the prompts of `rows` (left-padded) through the model once. A long start that
        every prompt shares (a judge's rubric, one system prompt) is computed once and its
        keys and values copied to every row: the rows' own tokens follow it, left-padded, so
        each row reads [shared | padding | own tokens] with the padding masked out."""
        shared = shared_prefix(rows)
        if not shared:
            ids, mask, positions = left_padded(rows, pad_id)
            logits = forward(ids, mask, positions, cache, [r.adapter for r in rows])
            return cls(rows, cache, mask, positions[:, -1], logits)
        head = torch.tensor([rows[0].prompt_ids[:shared]])
        forward(
            head, torch.ones_like(head), torch.arange(shared)[None, :], cache, [rows[0].adapter]
        )
        for layer in cache.layers:
            layer.keys = layer.keys.expand(len(rows), -1, -1, -1).contiguous()
            layer.values = layer.values.expand(len(rows), -1, -1, -1).contiguous()
        tails = [r.prompt_ids[shared:] for r in rows]
        width = max(len(t) for t in tails)
        ids = torch.tensor([[pad_id] * (width - len(t)) + t for t in tails])
        own = torch.tensor([[0] * (width - len(t)) + [1] * len(t) for t in tails])
        mask = torch.cat([own.new_ones((len(rows), shared)), own], dim=1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
        logits = forward(ids, mask, positions, cache, [r.adapter for r in rows])
        batch = cls(rows, cache, mask, positions[:, -1], logits)
        batch.tokens_saved = shared * (len(rows) - 1)
        return batch

    def absorb(self, other: ActiveBatch) -> None:
        """Append `other`'s rows: pad both caches on the left to one length, then concatenate."""
        mine, theirs = self.mask.shape[1], other.mask.shape[1]
        width = max(mine, theirs)
        for layer, incoming in zip(self.cache.layers, other.cache.layers, strict=True):
            layer.keys = torch.cat(
                [
                    _left_pad(layer.keys, width - mine, -2),
                    _left_pad(incoming.keys, width - theirs, -2),
                ]
            )
            layer.values = torch.cat(
                [
                    _left_pad(layer.values, width - mine, -2),
                    _left_pad(incoming.values, width - theirs, -2),
                ]
            )
        self.mask = torch.cat(
            [_left_pad(self.mask, width - mine, 1), _left_pad(other.mask, width - theirs, 1)]
        )
        self.positions = torch.cat([self.positions, other.positions])
        self.last_logits = torch.cat([self.last_logits, other.last_logits])
        self.rows = self.rows + other.rows

    def step(self, forward: Forward, detokenize: Detokenize, eos_ids: set[int]) -> None:
        """Pick every row's next token, emit text, drop finished rows, run the next forward."""
        tokens = advance_rows(self.rows, self.last_logits, detokenize, eos_ids)
        keep = [i for i, row in enumerate(self.rows) if not row.done]
        if len(keep) < len(self.rows):
            self._select(keep)
        if not self.rows:
            return
        next_ids = torch.tensor([[tokens[i]] for i in keep])
        self.mask = torch.cat([self.mask, self.mask.new_ones((len(keep), 1))], dim=1)
        self.positions = self.positions + 1
        self.last_logits = forward(
            next_ids, self.mask, self.positions[:, None], self.cache, [r.adapter for r in self.rows]
        )

    def _select(self, keep: list[int]) -> None:
        self.rows = [self.rows[i] for i in keep]
        if not keep:
            return
        index = torch.tensor(keep)
        for layer in self.cache.layers:
            layer.batch_select_indices(index.to(layer.keys.device))
        self.mask, self.positions = self.mask[index], self.positions[index]
        self.last_logits = self.last_logits[index.to(self.last_logits.device)]
        # Columns that are padding for every remaining row carry no information: crop them.
        used = self.mask.any(dim=0).nonzero()
        lead = int(used[0].item()) if len(used) else 0
        if lead:
            self.mask = self.mask[:, lead:]
            for layer in self.cache.layers:
                layer.keys = layer.keys[:, :, lead:, :]
                layer.values = layer.values[:, :, lead:, :]


# A shared start shorter than this is not worth a separate forward pass.
SHARED_PREFIX_MIN = 32


def shared_prefix(rows: list[Sequence]) -> int:
    """How many first tokens every prompt of `rows` has in common, leaving each at least one
    of its own; 0 when that is under SHARED_PREFIX_MIN, for a single row, or when the rows use
    different adapters (an adapter changes the keys and values of the same tokens)."""
    if len(rows) < 2 or len({r.adapter for r in rows}) != 1:
        return 0
    first = rows[0].prompt_ids
    limit = min(len(r.prompt_ids) for r in rows) - 1
    shared = 0
    while shared < limit and all(r.prompt_ids[shared] == first[shared] for r in rows):
        shared += 1
    return shared if shared >= SHARED_PREFIX_MIN else 0


def length_groups(rows: list[Sequence], slack: float = 0.15) -> list[list[Sequence]]:
    """`rows` in groups whose prompts are prefilled together: each group's prompts are at
    least (1 − slack) of its longest one, so left-padding wastes at most `slack` of a row.
    A prefill computes every padded column, and on a CPU, where a long prompt already fills
    the matrix products, one batch of prompts from 450 to 850 tokens (two answers under a
    judge's rubric) spends a quarter of its work on padding; groups cost almost nothing more,
    their KV caches are merged after (`ActiveBatch.absorb`)."""
    ordered = sorted(rows, key=lambda r: len(r.prompt_ids), reverse=True)
    groups: list[list[Sequence]] = []
    for row in ordered:
        if groups and len(row.prompt_ids) >= (1 - slack) * len(groups[-1][0].prompt_ids):
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def left_padded(
    rows: list[Sequence], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Prompt ids, attention mask and positions of `rows`, left-padded to one width, so every
    row's last prompt token sits in the last column."""
    width = max(len(r.prompt_ids) for r in rows)
    ids = torch.tensor([[pad_id] * (width - len(r.prompt_ids)) + r.prompt_ids for r in rows])
    mask = torch.tensor([[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in rows])
    return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)


def advance_rows(
    rows: list[Sequence], logits: torch.Tensor, detokenize: Detokenize, eos_ids: set[int]
) -> list[int]:
    """Choose each row's next token from `logits` and emit its text; returns the tokens. The
    log-probabilities are read out to plain numbers here, so `logits` may be overwritten after
    (a captured graph's output buffer)."""
    params = [r.params for r in rows]
    tokens = choose_next_tokens(
        logits, params, [r.generator for r in rows], [r.generated for r in rows]
    )
    logprobs = step_logprobs(logits, tokens, params)
    for row, token, logprob in zip(rows, tokens, logprobs, strict=True):
        if not row.cancelled:
            _advance(row, token, detokenize, eos_ids, logprob)
    return tokens


def _advance(
    row: Sequence,
    token: int,
    detokenize: Detokenize,
    eos_ids: set[int],
    logprob: StepLogprobs | None = None,
) -> None:
    hit_eos = token in eos_ids and not row.params.ignore_eos
    if not hit_eos:
        row.generated.append(token)
        if logprob is not None:  # the end-of-sequence token is not part of the content
            row.pending_logprobs.append(logprob)
    out_of_room = len(row.generated) >= row.max_new_tokens
    text = detokenize(row.generated)
    ending = hit_eos or out_of_room
    delta = row.stop_filter.update(text, final=ending)
    if row.stop_filter.stopped or ending:
        row.finished = True
        reason: FinishReason = (
            "length" if out_of_room and not (hit_eos or row.stop_filter.stopped) else "stop"
        )
        row.emit(
            StreamDelta(
                delta,
                finish_reason=reason,
                prompt_tokens=len(row.prompt_ids),
                completion_tokens=len(row.generated) + (1 if hit_eos else 0),
                logprobs=row.take_logprobs(),
            )
        )
    elif delta:
        row.emit(StreamDelta(delta, logprobs=row.take_logprobs()))
