"""Choose each row's next token: greedy, or temperature + top-p with the row's own seed."""

from __future__ import annotations

from collections.abc import Sequence as Rows
from dataclasses import dataclass

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


@dataclass(frozen=True)
class StepLogprobs:
    """The chosen token's log-probability at one step, and the most likely tokens there
    (`top`: (token id, log-probability), most likely first). Plain numbers: nothing here
    refers to the logits, which the next step may overwrite."""

    token: int
    logprob: float
    top: list[tuple[int, float]]


def step_logprobs(
    logits: torch.Tensor, tokens: Rows[int], params: Rows[SamplingParams]
) -> list[StepLogprobs | None]:
    """Log-probabilities of the chosen `tokens` for the rows that asked for them (None for the
    others), from the model's own distribution: before temperature and top-p, as vLLM reports
    them by default. Computed on the logits' device, one transfer to the host."""
    wanted = [row for row, p in enumerate(params) if p.logprobs]
    found: list[StepLogprobs | None] = [None] * len(params)
    if not wanted:
        return found
    device = logits.device
    rows = torch.tensor(wanted, device=device)
    logprobs = torch.log_softmax(logits.index_select(0, rows).float(), dim=-1)
    chosen_ids = torch.tensor([[tokens[row]] for row in wanted], device=device)
    chosen = logprobs.gather(1, chosen_ids).squeeze(1).tolist()
    k = max(params[row].top_logprobs for row in wanted)
    top_values: list[list[float]] = [[] for _ in wanted]
    top_ids: list[list[int]] = [[] for _ in wanted]
    if k:
        top = logprobs.topk(k, dim=-1)
        top_values, top_ids = top.values.tolist(), top.indices.tolist()
    for i, row in enumerate(wanted):
        n = params[row].top_logprobs
        found[row] = StepLogprobs(
            tokens[row], float(chosen[i]), list(zip(top_ids[i][:n], top_values[i][:n], strict=True))
        )
    return found
