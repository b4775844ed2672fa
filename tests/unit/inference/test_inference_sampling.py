"""The HF engine's penalties and logit bias, as OpenAI defines them (and vLLM applies them):
applied to the scores the token is chosen from, never to the logprobs reported."""

from __future__ import annotations

import pytest
import torch

from advisor_inference.engines.base import SamplingParams
from advisor_inference.engines.hf.sampling import (
    adjusted_logits,
    choose_next_tokens,
    make_generator,
    step_logprobs,
)

pytestmark = pytest.mark.unit


def test_penalties_follow_openais_formula() -> None:
    scores = torch.tensor([1.0, 2.0, 3.0, 4.0])
    params = SamplingParams(frequency_penalty=0.5, presence_penalty=0.25)
    # Token 3 came twice, token 1 once: 4 - 2*0.5 - 0.25 and 2 - 0.5 - 0.25.
    adjusted = adjusted_logits(scores, params, [3, 1, 3])
    assert adjusted.tolist() == [1.0, 1.25, 3.0, 2.75]
    assert scores.tolist() == [1.0, 2.0, 3.0, 4.0]  # the model's own scores stay as they were
    negative = adjusted_logits(scores, SamplingParams(presence_penalty=-1.0), [0])
    assert negative.tolist() == [2.0, 2.0, 3.0, 4.0]  # a negative penalty favours repeats


def test_logit_bias_moves_the_greedy_choice_but_not_the_reported_logprobs() -> None:
    logits = torch.tensor([[0.0, 5.0, 1.0], [0.0, 5.0, 1.0]])
    params = [
        SamplingParams(temperature=0.0),
        SamplingParams(temperature=0.0, logprobs=True, logit_bias=((2, 10.0),)),
    ]
    tokens = choose_next_tokens(logits, params, [make_generator(0)] * 2, [[], []])
    assert tokens == [1, 2]
    (_, biased) = step_logprobs(logits, tokens, params)
    assert biased is not None
    assert biased.logprob == pytest.approx(torch.log_softmax(logits[1], -1)[2].item())


def test_a_frequency_penalty_stops_a_greedy_repeat() -> None:
    logits = torch.tensor([[0.0, 3.0, 2.5]])
    plain = SamplingParams(temperature=0.0)
    penalised = SamplingParams(temperature=0.0, frequency_penalty=1.0)
    generator = [make_generator(0)]
    assert choose_next_tokens(logits, [plain], generator, [[1]]) == [1]
    assert choose_next_tokens(logits, [penalised], generator, [[1]]) == [2]
