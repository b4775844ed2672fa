"""`POST /v1/chat/completions`, non-stream and SSE, behind admission control."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from advisor_shared.api import ApiError

from ...catalog import ServedModel, find_model
from ...completions import (
    ChunkWriter,
    completion_body,
    new_completion_id,
    sse_events,
    to_generation_request,
)
from ...errors import EngineUnavailableError, InferenceError
from ...schemas import ChatCompletionCreate
from ..deps import AdaptersDep, EngineDep, GateDep, MetricsDep, SettingsDep

router = APIRouter(tags=["chat"])
TEMPLATE_MISMATCH_HEADER = "X-Advisor-Template-Mismatch"


def _flag_headers(model: ServedModel) -> dict[str, str]:
    """A loud per-response flag when an adapter is served despite a template mismatch."""
    if model.adapter is None or not model.adapter.template_mismatch:
        return {}
    t = model.adapter.template
    return {TEMPLATE_MISMATCH_HEADER: f"trained={t.trained_sha256[:12]} serving={t.serving_sha256}"}


@router.post("/v1/chat/completions", response_model=None)
async def create_chat_completion(
    body: ChatCompletionCreate,
    settings: SettingsDep,
    engine: EngineDep,
    adapters: AdaptersDep,
    gate: GateDep,
    metrics: MetricsDep,
) -> JSONResponse | StreamingResponse:
    """Create a chat completion (OpenAI-compatible)."""
    if not engine.models():
        raise EngineUnavailableError("the model is still loading",
                                     headers={"Retry-After": str(settings.retry_after_s)})  # fmt: skip
    try:
        served = find_model(body.model, settings, engine, adapters)
    except InferenceError:
        metrics.requests.labels("unknown", "404").inc()
        raise
    if not gate.try_enter():
        metrics.rejections.labels("overloaded").inc()
        metrics.requests.labels(served.id, "429").inc()
        raise ApiError(
            429, f"the server is at capacity ({gate.limit} requests in flight); retry later",
            code="overloaded", headers={"Retry-After": str(settings.retry_after_s)},
        )  # fmt: skip
    started = time.perf_counter()
    request = to_generation_request(body)
    completion_id = new_completion_id()
    try:
        if not body.stream:
            result = await engine.generate(request)
        else:
            deltas = await engine.stream(request)
    except InferenceError as exc:
        gate.leave()
        metrics.requests.labels(served.id, str(exc.status)).inc()
        raise
    except BaseException:
        gate.leave()
        metrics.requests.labels(served.id, "500").inc()
        raise
    headers = _flag_headers(served)
    if not body.stream:
        gate.leave()
        _record(metrics, served.id, started, False, result.prompt_tokens, result.completion_tokens)
        return JSONResponse(completion_body(result, served.id, completion_id), headers=headers)

    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    writer = ChunkWriter(served.id, completion_id, include_usage)

    def finished(prompt: int, completion: int) -> None:
        _record(metrics, served.id, started, True, prompt, completion)

    async def events() -> AsyncIterator[bytes]:
        try:
            async for event in sse_events(deltas, writer, finished):
                yield event
        finally:
            gate.leave()
            await deltas.aclose()  # type: ignore[attr-defined]

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", **headers})  # fmt: skip


def _record(
    metrics: MetricsDep, model: str, started: float, stream: bool, prompt: int, completion: int
) -> None:
    metrics.requests.labels(model, "200").inc()
    metrics.latency.labels(model, str(stream).lower()).observe(time.perf_counter() - started)
    metrics.count_tokens(model, prompt, completion)
