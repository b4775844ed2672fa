"""Chat completions as OpenAI shapes: request → engine request, results → response bodies,
stream deltas → `chat.completion.chunk` server-sent events."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from advisor_shared.api import error_body

from .engines.base import (
    EngineInfo,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    StreamDelta,
    TokenLogprob,
)
from .errors import InferenceError, InvalidParameterError
from .schemas import UNSUPPORTED, ChatCompletionCreate

SSE_DONE = b"data: [DONE]\n\n"


def refuse_unsupported(body: ChatCompletionCreate, info: EngineInfo) -> None:
    """A 400 naming the first parameter this gateway, or the engine behind it, cannot honour:
    unknown fields (as OpenAI's own server does), parameters no engine here honours when they
    hold a value, and the ones this engine lacks."""
    for name in body.model_extra or {}:
        raise InvalidParameterError(
            f"unrecognized request argument supplied: {name[:100]}",
            param=name[:100],
            code="unknown_parameter",
        )
    for name, (accepted, reason) in UNSUPPORTED.items():
        if not accepted(getattr(body, name)):
            raise InvalidParameterError(
                f"{name}: {reason}", param=name, code="unsupported_parameter"
            )
    if body.stream_options and body.stream_options.include_obfuscation:
        raise InvalidParameterError(
            "stream_options.include_obfuscation is not supported",
            param="stream_options",
            code="unsupported_parameter",
        )
    if body.logprobs and not info.logprobs:
        raise InvalidParameterError("logprobs are not supported by this engine", param="logprobs")
    if body.structured_output and not info.structured_output:
        raise InvalidParameterError(
            f"response_format {body.output_format!r} needs an engine with structured "
            "output (vLLM); this one generates free text only",
            param="response_format",
            code="unsupported_parameter",
        )
    if body.logit_bias and info.vocab_size is not None:
        beyond = [t for t in body.logit_bias if int(t) >= info.vocab_size]
        if beyond:
            raise InvalidParameterError(
                f"logit_bias: token id {beyond[0]} is beyond the vocabulary "
                f"(0 to {info.vocab_size - 1})",
                param="logit_bias",
            )


def to_generation_request(body: ChatCompletionCreate, engine_model: str) -> GenerationRequest:
    """The engine's request for `engine_model` (the served id a name resolved to)."""
    return GenerationRequest(
        model=engine_model,
        messages=[m.as_template_message() for m in body.messages],
        params=SamplingParams(
            max_tokens=body.requested_max_tokens,
            temperature=body.temperature,
            top_p=body.top_p,
            seed=body.seed,
            stop=body.stop_strings,
            logprobs=bool(body.logprobs),
            top_logprobs=body.top_logprobs or 0,
            presence_penalty=body.presence_penalty or 0.0,
            frequency_penalty=body.frequency_penalty or 0.0,
            logit_bias=tuple((int(t), b) for t, b in (body.logit_bias or {}).items()),
            response_format=body.response_format if body.structured_output else None,
            n=body.n,
        ),
    )


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def logprobs_body(tokens: tuple[TokenLogprob, ...] | None) -> dict[str, Any] | None:
    """OpenAI's `choices[].logprobs`: `{"content": [{token, logprob, bytes, top_logprobs}]}`."""
    if tokens is None:
        return None
    content = [
        {
            "token": t.token,
            "logprob": t.logprob,
            "bytes": t.bytes,
            "top_logprobs": [
                {"token": top.token, "logprob": top.logprob, "bytes": top.bytes}
                for top in t.top_logprobs
            ],
        }
        for t in tokens
    ]
    return {"content": content, "refusal": None}


def completion_body(
    results: list[GenerationResult], model: str, completion_id: str
) -> dict[str, Any]:
    """A `chat.completion` object with one choice per result. The prompt is counted once."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": index,
                "message": {"role": "assistant", "content": result.text},
                "finish_reason": result.finish_reason,
                "logprobs": logprobs_body(result.logprobs),
            }
            for index, result in enumerate(results)
        ],
        "usage": usage(results[0].prompt_tokens, sum(r.completion_tokens for r in results)),
        "system_fingerprint": None,
    }


class ChunkWriter:
    """Formats `chat.completion.chunk` events for one streamed completion."""

    def __init__(self, model: str, completion_id: str, include_usage: bool):
        self.model, self.id, self.include_usage = model, completion_id, include_usage
        self.created = int(time.time())

    def event(
        self,
        delta: dict[str, str],
        finish_reason: str | None = None,
        logprobs: tuple[TokenLogprob, ...] | None = None,
        index: int = 0,
    ) -> bytes:
        choice = {
            "index": index,
            "delta": delta,
            "finish_reason": finish_reason,
            "logprobs": logprobs_body(logprobs),
        }
        return self._encode({"choices": [choice]})

    def usage_event(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        return self._encode({"choices": [], "usage": usage(prompt_tokens, completion_tokens)})

    def _encode(self, fields: dict[str, Any]) -> bytes:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            **fields,
        }
        if self.include_usage:
            chunk.setdefault("usage", None)  # OpenAI: null on every chunk but the last
        return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"


async def sse_events(
    deltas: AsyncIterator[StreamDelta],
    writer: ChunkWriter,
    on_finish: Callable[[int, int], None] | None = None,
    choices: int = 1,
) -> AsyncIterator[bytes]:
    """A role chunk per choice, content chunks, a finish chunk per choice, then (once every
    choice has finished) the usage chunk if asked for, and `[DONE]`. An engine failure
    mid-stream becomes an error event (the status line is already sent)."""
    for index in range(choices):
        yield writer.event({"role": "assistant", "content": ""}, index=index)
    prompt, completion, finished = 0, 0, 0
    try:
        async for delta in deltas:
            # Tokens whose text was held back (a possible stop string) come with a later delta;
            # the last ones may come with no text at all, and still get their content chunk.
            if delta.text or delta.logprobs:
                yield writer.event(
                    {"content": delta.text}, logprobs=delta.logprobs, index=delta.index
                )
            if delta.finish_reason is not None:
                yield writer.event({}, delta.finish_reason, index=delta.index)
                prompt = max(prompt, delta.prompt_tokens or 0)
                completion += delta.completion_tokens or 0
                finished += 1
        if finished and on_finish is not None:
            on_finish(prompt, completion)
        if finished and writer.include_usage:
            yield writer.usage_event(prompt, completion)
    except InferenceError as exc:
        yield _error_event(exc.status, exc.message, exc.code)
    except Exception:  # noqa: BLE001 - the client gets an error event, not a cut stream
        yield _error_event(500, "the engine failed while generating", "engine_error")
    yield SSE_DONE


def _error_event(status: int, message: str, code: str | None) -> bytes:
    return b"data: " + json.dumps(error_body(status, message, code=code)).encode() + b"\n\n"
