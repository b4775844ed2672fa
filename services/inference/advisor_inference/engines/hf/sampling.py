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
    logits: torch.Tensor,
    params: Rows[SamplingParams],
    generators: Rows[torch.Generator],
    generated: Rows[list[int]] | None = None,
) -> list[int]:
    """`logits` is `[rows, vocab]`; returns one token id per row. `generated` holds each row's
    tokens so far, which the penalties count."""
    chosen = logits.argmax(dim=-1).tolist()
    for row, p in enumerate(params):
        if p.greedy and not p.adjusts_logits:
            continue
        scores = logits[row].float()
        if p.adjusts_logits:
            scores = adjusted_logits(scores, p, generated[row] if generated else [])
        if p.greedy:
            chosen[row] = int(scores.argmax().item())
            continue
        probs = torch.softmax(scores.cpu() / p.temperature, dim=-1)
        if p.top_p < 1.0:
            sorted_probs, order = probs.sort(descending=True)
            # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
            keep = (sorted_probs.cumsum(0) - sorted_probs) < p.top_p
            pick = torch.multinomial(sorted_probs * keep, 1, generator=generators[row])
            chosen[row] = int(order[pick].item())
        else:
            chosen[row] = int(torch.multinomial(probs, 1, generator=generators[row]).item())
    return chosen


def adjusted_logits(scores: torch.Tensor, p: SamplingParams, generated: list[int]) -> torch.Tensor:
    """OpenAI's definitions, as vLLM applies them: each token generated so far lowers its logit
    by `frequency_penalty` per occurrence plus `presence_penalty` once; `logit_bias` is added.
    A new tensor: the model's logits (the logprobs are read from them) stay as they were."""
    scores = scores.clone()
    if (p.frequency_penalty or p.presence_penalty) and generated:
        ids = torch.tensor(generated, device=scores.device)
        counts = torch.bincount(ids, minlength=scores.shape[0])[: scores.shape[0]].to(scores.dtype)
        scores -= p.frequency_penalty * counts + p.presence_penalty * (counts > 0).to(scores.dtype)
    for token, bias in p.logit_bias:
        if token < scores.shape[0]:
            scores[token] += bias
    return scores


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
