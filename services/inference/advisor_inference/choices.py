"""`n` completions for one request: the engine's own when it has them (vLLM's `n`), else `n`
requests to the engine at once, which the HF engine batches as `n` rows of one step.

A seeded request gives choice `i` the seed `seed + i`: reproducible, and choice 0 is what the
same request with `n: 1` answers.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

from .engines.base import Engine, GenerationRequest, GenerationResult, StreamDelta


@runtime_checkable
class NativeChoices(Protocol):
    """An engine that answers one request with several completions (EngineInfo.native_n)."""

    async def generate_choices(self, request: GenerationRequest) -> list[GenerationResult]: ...


def one_choice_requests(request: GenerationRequest) -> list[GenerationRequest]:
    params = request.params
    return [
        dataclasses.replace(
            request,
            params=dataclasses.replace(
                params, n=1, seed=None if params.seed is None else params.seed + index
            ),
        )
        for index in range(params.n)
    ]


async def generate_choices(engine: Engine, request: GenerationRequest) -> list[GenerationResult]:
    if request.params.n == 1:
        return [await engine.generate(request)]
    if engine.info.native_n and isinstance(engine, NativeChoices):
        return await engine.generate_choices(request)
    # Cancelled together: a client that leaves frees every row.
    return list(await asyncio.gather(*(engine.generate(r) for r in one_choice_requests(request))))


async def stream_choices(engine: Engine, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
    """The engine's stream; for `n` rows of an engine without native `n`, their deltas merged
    as they come, each tagged with its choice's index. Errors before the first token (a prompt
    that does not fit) are raised here, as `Engine.stream` does."""
    if request.params.n == 1 or engine.info.native_n:
        return await engine.stream(request)
    streams: list[AsyncIterator[StreamDelta]] = []
    try:
        for one in one_choice_requests(request):
            streams.append(await engine.stream(one))
    except BaseException:
        for stream in streams:
            await _close(stream)
        raise
    return MergedStream(streams)


class MergedStream:
    """Several streams as one, in arrival order; `aclose` stops and closes every one."""

    def __init__(self, streams: list[AsyncIterator[StreamDelta]]):
        self._streams = streams
        self._queue: asyncio.Queue[StreamDelta | BaseException | None] = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._pump(i, s)) for i, s in enumerate(streams)]
        self._running = len(streams)

    async def _pump(self, index: int, stream: AsyncIterator[StreamDelta]) -> None:
        try:
            async for delta in stream:
                await self._queue.put(dataclasses.replace(delta, index=index))
        except Exception as exc:  # noqa: BLE001 - handed to the reader, which raises it
            await self._queue.put(exc)
        finally:
            await self._queue.put(None)

    def __aiter__(self) -> MergedStream:
        return self

    async def __anext__(self) -> StreamDelta:
        while self._running:
            item = await self._queue.get()
            if item is None:
                self._running -= 1
                continue
            if isinstance(item, BaseException):
                await self.aclose()
                raise item
            return item
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self._running = 0
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for stream in self._streams:
            await _close(stream)


async def _close(stream: Any) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
