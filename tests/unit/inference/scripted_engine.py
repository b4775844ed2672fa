"""An engine with scripted answers, for gateway tests that need no model: each answer is
`<model> says <last user words>`, one word per token, context of 64 "tokens"."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from advisor_inference.engines.base import (
    EngineHealth,
    EngineInfo,
    GenerationRequest,
    GenerationResult,
    StreamDelta,
)
from advisor_inference.engines.limits import completion_budget
from advisor_inference.errors import ModelNotFoundError


class ScriptedEngine:
    def __init__(self, info: EngineInfo | None = None):
        self._info = info or EngineInfo("scripted", "sha256:scripted", None, 64)
        self.adapters: set[str] = set()
        self.release = asyncio.Event()
        self.release.set()
        self.running = 0

    @property
    def info(self) -> EngineInfo:
        return self._info

    def models(self) -> list[str]:
        return ["base", *sorted(self.adapters)]

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def _words(self, request: GenerationRequest) -> list[str]:
        if request.model not in self.models():
            raise ModelNotFoundError(f"the model `{request.model}` does not exist", param="model")
        prompt = " ".join(m["content"] for m in request.messages).split()
        budget = completion_budget(len(prompt), request.params.max_tokens, 64)
        words = [request.model, "says", *request.messages[-1]["content"].split()]
        return words[:budget]

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        words = self._words(request)
        self.running += 1
        try:
            await self.release.wait()
        finally:
            self.running -= 1
        return GenerationResult(" ".join(words), "stop", len(words), len(words))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        words = self._words(request)

        async def deltas() -> AsyncIterator[StreamDelta]:
            for i, word in enumerate(words):
                yield StreamDelta(word if i == 0 else " " + word)
            yield StreamDelta("", "length", 5, len(words))

        return deltas()

    async def load_adapter(self, name: str, path: Path) -> None:
        self.adapters.add(name)

    async def unload_adapter(self, name: str) -> None:
        self.adapters.discard(name)

    async def health(self) -> EngineHealth:
        return EngineHealth(alive=True, ready=True)
