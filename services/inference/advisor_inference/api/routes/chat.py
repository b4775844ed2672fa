"""`POST /v1/chat/completions`, non-stream and SSE, behind admission control."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from advisor_shared.api import ApiError, request_owner

from ...catalog import ServedModel, find_model
from ...choices import generate_choices, stream_choices
from ...completions import (
    ChunkWriter,
    completion_body,
    new_completion_id,
    refuse_unsupported,
    sse_events,
    to_generation_request,
)
from ...errors import EngineUnavailableError, InferenceError
from ...schemas import ChatCompletionCreate
from ..deps import AdaptersDep, EngineDep, GateDep, MetricsDep, SettingsDep
from ..disconnect import ClientGone, until_disconnected

router = APIRouter(tags=["chat"])
TEMPLATE_MISMATCH_HEADER = "X-Advisor-Template-Mismatch"
# The chat template the engine formatted this request with, so an evaluator can compare it
# with the template an adapter was trained with (docs/design.md, lesson 1).
TEMPLATE_HEADER = "X-Advisor-Chat-Template-Sha256"
# The bundle an adapter model answered from (`name@version`; a bare name is its newest).
ADAPTER_HEADER = "X-Advisor-Adapter"


def _template_headers(model: ServedModel, serving_sha256: str | None) -> dict[str, str]:
    """The serving template's fingerprint, the bundle that answered, and a loud flag when an
    adapter is served despite a template mismatch."""
    headers = {TEMPLATE_HEADER: serving_sha256} if serving_sha256 else {}
    if model.adapter is not None:
        headers[ADAPTER_HEADER] = str(model.adapter.ref)
    if model.adapter is not None and model.adapter.template_mismatch:
        t = model.adapter.template
        headers[TEMPLATE_MISMATCH_HEADER] = (
            f"trained={t.trained_sha256[:12]} serving={t.serving_sha256}"
        )
    return headers


@router.post("/v1/chat/completions", response_model=None)
async def create_chat_completion(
    http_request: Request,
    body: ChatCompletionCreate,
    settings: SettingsDep,
    engine: EngineDep,
    adapters: AdaptersDep,
    gate: GateDep,
    metrics: MetricsDep,
) -> JSONResponse | StreamingResponse:
    """Create a chat completion (OpenAI-compatible)."""
    if not engine.models():
        raise EngineUnavailableError(
            "the model is still loading", headers={"Retry-After": str(settings.retry_after_s)}
        )
    try:
        served = find_model(body.model, settings, engine, adapters)
    except InferenceError:
        metrics.requests.labels("unknown", "404").inc()
        raise
    try:
        refuse_unsupported(body, engine.info)
    except InferenceError as exc:
        metrics.requests.labels(served.id, str(exc.status)).inc()
        raise
    owner = request_owner(http_request)
    rows = body.n  # each choice is a generation in flight
    if not gate.try_enter(owner, rows):
        per_key = gate.key_is_full(owner, rows)
        metrics.rejections.labels("key_quota" if per_key else "overloaded").inc()
        metrics.requests.labels(served.id, "429").inc()
        message = (
            f"this key has {gate.per_key_limit} requests in flight, its limit; retry later"
            if per_key
            else f"the server is at capacity ({gate.limit} requests in flight); retry later"
        )
        raise ApiError(
            429,
            message,
            code="key_quota" if per_key else "overloaded",
            headers={"Retry-After": str(settings.retry_after_s)},
        )
    started = time.perf_counter()
    request = to_generation_request(body, served.engine_id())
    completion_id = new_completion_id()
    try:
        if not body.stream:
            results = await until_disconnected(http_request, generate_choices(engine, request))
        else:
            deltas = await stream_choices(engine, request)
    except InferenceError as exc:
        gate.leave(owner, rows)
        metrics.requests.labels(served.id, str(exc.status)).inc()
        raise
    except ClientGone:
        gate.leave(owner, rows)
        metrics.requests.labels(served.id, "499").inc()
        return JSONResponse({}, status_code=499)  # nobody reads it; the generation is cancelled
    except BaseException:
        gate.leave(owner, rows)
        metrics.requests.labels(served.id, "500").inc()
        raise
    headers = _template_headers(served, engine.info.chat_template_sha256)
    if not body.stream:
        gate.leave(owner, rows)
        body_out = completion_body(results, served.id, completion_id)
        _record(
            metrics,
            served.id,
            started,
            False,
            body_out["usage"]["prompt_tokens"],
            body_out["usage"]["completion_tokens"],
        )
        return JSONResponse(body_out, headers=headers)

    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    writer = ChunkWriter(served.id, completion_id, include_usage)

    def finished(prompt: int, completion: int) -> None:
        _record(metrics, served.id, started, True, prompt, completion)

    async def release() -> None:
        gate.leave(owner, rows)
        close = getattr(deltas, "aclose", None)
        if close is not None:
            await close()

    return GatedStreamingResponse(
        sse_events(deltas, writer, finished, choices=body.n),
        release=release,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", **headers},
    )


class GatedStreamingResponse(StreamingResponse):
    """Frees the admission slot and the engine row when the response ends, however it ends:
    finished, failed, or cancelled by a disconnect before the first chunk was sent."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        release: Callable[[], Awaitable[None]],
        **kwargs: Any,
    ):
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._release()


def _record(
    metrics: MetricsDep, model: str, started: float, stream: bool, prompt: int, completion: int
) -> None:
    metrics.requests.labels(model, "200").inc()
    metrics.latency.labels(model, str(stream).lower()).observe(time.perf_counter() - started)
    metrics.count_tokens(model, prompt, completion)
