"""Choose each row's next token: greedy, or temperature + top-p with the row's own seed."""

from __future__ import annotations

from collections.abc import Sequence as Rows

import torch

from ..base import SamplingParams


def make_generator(seed: int | None) -> torch.Generator:
    """A CPU generator per request, so a seeded request samples the same way in any batch."""
    generator = torch.Generator(device="cpu")
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed % (2**63))
    return generator


def choose_next_tokens(
    logits: torch.Tensor, params: Rows[SamplingParams], generators: Rows[torch.Generator]
) -> list[int]:
    """`logits` is `[rows, vocab]`; returns one token id per row."""
    chosen = logits.argmax(dim=-1).tolist()
    for row, p in enumerate(params):
        if p.greedy:
            continue
        scores = logits[row].float().cpu() / p.temperature
        probs = torch.softmax(scores, dim=-1)
        if p.top_p < 1.0:
            sorted_probs, order = probs.sort(descending=True)
            # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
            keep = (sorted_probs.cumsum(0) - sorted_probs) < p.top_p
            pick = torch.multinomial(sorted_probs * keep, 1, generator=generators[row])
            chosen[row] = int(order[pick].item())
        else:
            chosen[row] = int(torch.multinomial(probs, 1, generator=generators[row]).item())
    return chosen
