"""After a load, prove the adapter is applied: fixed prompts, greedy, with and without it.

lm-eval #2432: an adapter that was silently not applied produced exactly the base model's
answers. If every canary prompt answers the same with and without the adapter, the load is
reported as ineffective.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..engines.base import Engine, GenerationRequest, SamplingParams

CANARY_PROMPTS = (
    "What documents do I need for a student visa?",
    "How do I apply for a master's scholarship?",
    "Summarise the admission steps in one sentence.",
)


@dataclass(frozen=True)
class CanaryResult:
    prompts: int
    differing: int

    @property
    def effective(self) -> bool:
        return self.differing > 0


async def run_canary(engine: Engine, adapter: str, base: str, max_tokens: int) -> CanaryResult:
    """Run every prompt on both models at once (one batch on the HF engine)."""
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0)

    def ask(model: str, prompt: str) -> GenerationRequest:
        return GenerationRequest(model, [{"role": "user", "content": prompt}], params)

    answers = await asyncio.gather(
        *(engine.generate(ask(model, p)) for p in CANARY_PROMPTS for model in (adapter, base))
    )
    pairs = zip(answers[0::2], answers[1::2], strict=True)
    differing = sum(1 for with_adapter, without in pairs if with_adapter.text != without.text)
    return CanaryResult(prompts=len(CANARY_PROMPTS), differing=differing)
