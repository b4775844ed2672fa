"""`VllmEngine`: drives vLLM's own OpenAI server on a private URL (production).

Chat completions are forwarded to `POST /v1/chat/completions`; adapters are registered with
`POST /v1/load_lora_adapter {"lora_name", "lora_path"}` and removed with
`POST /v1/unload_lora_adapter {"lora_name"}` (vLLM needs VLLM_ALLOW_RUNTIME_LORA_UPDATING=True).
vLLM answers those two with 200 and a plain-text "Success: ..." body, and errors as JSON: newer
releases `{"error": {"message", "type", "code"}}`, older ones `{"object": "error", "message",
...}`; both are read. `lora_path` must be the bundle folder as the vLLM container sees it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

from ..errors import (
    AdapterRefusedError,
    EngineUnavailableError,
    InferenceError,
    InvalidParameterError,
    ModelNotFoundError,
    UpstreamError,
)
from .base import (
    EngineHealth,
    EngineInfo,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    StreamDelta,
    TokenLogprob,
    TopLogprob,
)

log = logging.getLogger(__name__)
DEFAULT_MAX_MODEL_LEN = 4096


class VllmEngine:
    """Forwards to vLLM; the base is served as `base_alias`, adapters under their own names."""

    def __init__(
        self,
        *,
        url: str,
        served_model: str,
        base_alias: str,
        base_model: str,
        base_fingerprint: str,
        chat_template_sha256: str | None,
        linear_shapes: dict[str, tuple[int, int]] | None,
        adapter_dir: Path,
        remote_adapter_dir: str | None = None,
        merged_name: str | None = None,
        merged_url: str | None = None,
        timeout_s: float = 600.0,
        transport: httpx.AsyncBaseTransport | None = None,
        template_source: Callable[[], str | None] | None = None,
    ):
        """`template_source` gives the sha256 of vLLM's chat template when it can be read (from
        the files vLLM downloaded); asked again while unknown, since vLLM may still be
        downloading when the gateway starts."""
        self._served, self._alias = served_model, base_alias
        self._template_source = template_source
        self._adapter_dir = adapter_dir
        self._remote_dir = PurePosixPath(remote_adapter_dir or str(adapter_dir))
        self._merged_name = merged_name if merged_url else None
        timeout = httpx.Timeout(timeout_s, connect=5.0)
        self._client = httpx.AsyncClient(base_url=url, timeout=timeout, transport=transport)
        self._merged_client = (
            httpx.AsyncClient(base_url=merged_url, timeout=timeout, transport=transport)
            if merged_url
            else None
        )
        # Served adapter names and the folder vLLM loads each from: re-registered after vLLM
        # restarts (it forgets adapters loaded at run time).
        self._adapters: dict[str, str] = {}
        self._info = EngineInfo(
            base_model=base_model,
            base_fingerprint=base_fingerprint,
            chat_template_sha256=chat_template_sha256,
            max_model_len=DEFAULT_MAX_MODEL_LEN,
            linear_shapes=linear_shapes,
            logprobs=True,  # vLLM reports them (up to its --max-logprobs, 20 by default)
            structured_output=True,  # response_format json_object / json_schema
            native_n=True,
        )

    @property
    def info(self) -> EngineInfo:
        return self._info

    def models(self) -> list[str]:
        merged = [self._merged_name] if self._merged_name else []
        return [self._alias, *sorted(self._adapters), *merged]

    async def start(self) -> None:
        """Learn vLLM's context length from its model card (`max_model_len`), if it is up."""
        self._refresh_template()
        try:
            response = await self._client.get("/v1/models")
            response.raise_for_status()
            for card in response.json().get("data", []):
                if card.get("id") == self._served and isinstance(card.get("max_model_len"), int):
                    self._info = _with_max_len(self._info, card["max_model_len"])
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("vLLM at %s not reachable yet: %s", self._client.base_url, exc)

    async def close(self) -> None:
        await self._client.aclose()
        if self._merged_client is not None:
            await self._merged_client.aclose()

    def _upstream(self, model: str) -> tuple[httpx.AsyncClient, str]:
        if model == self._alias:
            return self._client, self._served
        if model in self._adapters:
            return self._client, model  # registered with vLLM under the same name (name@version)
        if self._merged_client is not None and model == self._merged_name:
            return self._merged_client, model
        raise ModelNotFoundError(f"the model `{model[:100]}` does not exist", param="model")

    def _body(
        self, request: GenerationRequest, upstream_model: str, stream: bool
    ) -> dict[str, Any]:
        p = request.params
        if p.max_tokens is not None and p.max_tokens >= self._info.max_model_len:
            raise InvalidParameterError(
                f"max_tokens must be below the context length {self._info.max_model_len}; "
                f"got {p.max_tokens}",
                param="max_tokens",
            )
        body: dict[str, Any] = {
            "model": upstream_model,
            "messages": request.messages,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "stream": stream,
        }
        if p.max_tokens is not None:
            body["max_tokens"] = p.max_tokens
        if p.seed is not None:
            body["seed"] = p.seed
        if p.stop:
            body["stop"] = list(p.stop)
        if p.logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = p.top_logprobs
        # Passed through as OpenAI's names: vLLM implements each the same way.
        if p.n != 1:
            body["n"] = p.n
        if p.presence_penalty:
            body["presence_penalty"] = p.presence_penalty
        if p.frequency_penalty:
            body["frequency_penalty"] = p.frequency_penalty
        if p.logit_bias:
            body["logit_bias"] = {str(token): bias for token, bias in p.logit_bias}
        if p.response_format is not None:
            body["response_format"] = p.response_format
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        return (await self.generate_choices(request))[0]

    async def generate_choices(self, request: GenerationRequest) -> list[GenerationResult]:
        """Every choice of one vLLM completion (`n` of them)."""
        response = await self._resynced(self._post_chat, request, False)
        data = response.json()
        usage = data.get("usage") or {}
        choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
        prompt = int(usage.get("prompt_tokens", 0))
        total = int(usage.get("completion_tokens", 0))
        results = []
        for position, choice in enumerate(choices):
            # vLLM reports the completion tokens of all choices together; with one choice
            # that is its count, with several the total goes on the first.
            results.append(
                GenerationResult(
                    text=choice["message"].get("content") or "",
                    finish_reason=_finish(choice.get("finish_reason")),
                    prompt_tokens=prompt,
                    completion_tokens=total if position == 0 else 0,
                    logprobs=read_logprobs(choice.get("logprobs"))
                    if request.params.logprobs
                    else None,
                )
            )
        return results

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        response = await self._resynced(self._post_chat, request, True)
        return UpstreamStream(response, request.params.n)

    async def _post_chat(self, request: GenerationRequest, stream: bool) -> httpx.Response:
        client, upstream = self._upstream(request.model)
        body = self._body(request, upstream, stream=stream)
        try:
            http = client.build_request("POST", "/v1/chat/completions", json=body)
            response = await client.send(http, stream=stream)
        except httpx.TransportError as exc:
            raise _unreachable(exc) from None
        if response.status_code != 200:
            content = await response.aread()
            await response.aclose()
            raise _upstream_error(response.status_code, content)
        return response

    async def _resynced(
        self,
        call: Callable[[GenerationRequest, bool], Any],
        request: GenerationRequest,
        stream: bool,
    ) -> httpx.Response:
        """A vLLM that restarted since an adapter was loaded answers 404 for it: register the
        gateway's adapters again, then retry once."""
        try:
            return await call(request, stream)
        except ModelNotFoundError:
            if request.model not in self._adapters or not await self.reconcile():
                raise
            log.warning("vLLM had forgotten adapter %s; registered again", request.model)
            return await call(request, stream)

    async def load_adapter(self, name: str, path: Path) -> None:
        remote = self._remote_dir / Path(path).relative_to(self._adapter_dir).as_posix()
        response = await self._register(name, str(remote))
        if response.status_code != 200:
            error = _upstream_error(response.status_code, response.content)
            raise AdapterRefusedError(f"vLLM refused the adapter: {error.message}", param="adapter")
        self._adapters[name] = str(remote)

    async def _register(self, name: str, remote_path: str) -> httpx.Response:
        return await self._admin(
            "/v1/load_lora_adapter", {"lora_name": name, "lora_path": remote_path}
        )

    async def unload_adapter(self, name: str) -> None:
        self._adapters.pop(name, None)
        response = await self._admin("/v1/unload_lora_adapter", {"lora_name": name})
        if response.status_code == 404:
            log.warning("vLLM did not know adapter %s when unloading it", name)
        elif response.status_code != 200:
            raise _upstream_error(response.status_code, response.content)

    async def reconcile(self) -> list[str]:
        """Register again every adapter vLLM no longer lists (it forgets run-time adapters
        when it restarts); returns their names. Quiet while vLLM is down: the next call, once
        it answers, does the work. The gateway calls this every `VLLM_SYNC_INTERVAL_S`."""
        self._refresh_template()
        try:
            response = await self._client.get("/v1/models", timeout=10.0)
            listed = {card.get("id") for card in response.json().get("data", [])}
        except (httpx.HTTPError, ValueError, AttributeError):
            return []
        if response.status_code != 200:
            return []
        restored: list[str] = []
        for name, remote in list(self._adapters.items()):
            if name in listed:
                continue
            try:
                answer = await self._register(name, remote)
            except InferenceError:
                return restored  # gone again; the next call retries
            if answer.status_code == 200 or "already" in upstream_message(answer.content):
                restored.append(name)
            else:
                log.error(
                    "vLLM refused adapter %s when registering it again: %s",
                    name,
                    upstream_message(answer.content),
                )
        if restored:
            log.warning(
                "registered %d adapter(s) with vLLM again: %s", len(restored), ", ".join(restored)
            )
        return restored

    def _refresh_template(self) -> None:
        if self._info.chat_template_sha256 is None and self._template_source is not None:
            sha256 = self._template_source()
            if sha256 is not None:
                self._info = dataclasses.replace(self._info, chat_template_sha256=sha256)
                log.info("vLLM's chat template: sha256 %s", sha256)

    async def _admin(self, path: str, payload: dict[str, str]) -> httpx.Response:
        try:
            return await self._client.post(path, json=payload)
        except httpx.TransportError as exc:
            raise _unreachable(exc) from None

    async def health(self) -> EngineHealth:
        try:
            response = await self._client.get("/health", timeout=5.0)
        except httpx.HTTPError as exc:
            return EngineHealth(alive=True, ready=False, detail=f"vLLM unreachable: {exc!s:.100}")
        ready = response.status_code == 200
        return EngineHealth(alive=True, ready=ready, detail="" if ready else "vLLM not healthy")


class UpstreamStream:
    """vLLM's stream as deltas; `aclose` releases the connection even if never iterated."""

    def __init__(self, response: httpx.Response, choices: int = 1):
        self._response = response
        self._deltas = _read_sse(response, choices)

    def __aiter__(self) -> UpstreamStream:
        return self

    async def __anext__(self) -> StreamDelta:
        return await self._deltas.__anext__()

    async def aclose(self) -> None:
        await self._deltas.aclose()
        await self._response.aclose()


async def _read_sse(
    response: httpx.Response, choices: int = 1
) -> AsyncGenerator[StreamDelta, None]:
    """vLLM's chunks → deltas; each choice's finish reason comes last, in one final delta per
    choice, with the usage (all choices' completion tokens on the last one: vLLM counts them
    together)."""
    finish: dict[int, FinishReason] = {}
    usage: dict[str, Any] = {}
    try:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            payload = line[len("data:") :].strip()
            if payload == "[DONE]":
                break
            chunk = json.loads(payload)
            if "error" in chunk:
                raise _upstream_error(502, payload.encode())
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices", []):
                index = int(choice.get("index", 0))
                text = (choice.get("delta") or {}).get("content") or ""
                if choice.get("finish_reason"):
                    finish[index] = _finish(choice["finish_reason"])
                logprobs = read_logprobs(choice["logprobs"]) if choice.get("logprobs") else None
                if text or logprobs:
                    yield StreamDelta(text, logprobs=logprobs, index=index)
        last = choices - 1
        for index in range(choices):
            yield StreamDelta(
                "",
                finish_reason=finish.get(index, "stop"),
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)) if index == last else 0,
                index=index,
            )
    finally:
        await response.aclose()


def read_logprobs(data: Any) -> tuple[TokenLogprob, ...]:
    """OpenAI's `choices[].logprobs` (`{"content": [...]}`, as vLLM sends it) → our tokens."""
    content = (data or {}).get("content") or []
    return tuple(
        TokenLogprob(
            token=str(entry.get("token", "")),
            logprob=float(entry.get("logprob", 0.0)),
            bytes=entry.get("bytes"),
            top_logprobs=tuple(
                TopLogprob(
                    str(top.get("token", "")), float(top.get("logprob", 0.0)), top.get("bytes")
                )
                for top in entry.get("top_logprobs") or []
            ),
        )
        for entry in content
    )


def _finish(reason: object) -> FinishReason:
    return "length" if reason == "length" else "stop"


def _with_max_len(info: EngineInfo, max_model_len: int) -> EngineInfo:
    return dataclasses.replace(info, max_model_len=max_model_len)


def _unreachable(exc: Exception) -> EngineUnavailableError:
    return EngineUnavailableError(
        f"the engine is unreachable: {type(exc).__name__}", headers={"Retry-After": "5"}
    )


def upstream_message(content: bytes) -> str:
    """The message of a vLLM error body in either of its shapes, else the text itself."""
    try:
        body = json.loads(content)
    except ValueError:
        return content.decode("utf-8", "replace")[:300]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])[:300]
        if "message" in body:
            return str(body["message"])[:300]
    return str(body)[:300]


def _upstream_error(status: int, content: bytes) -> InferenceError:
    message = upstream_message(content)
    if status == 404:
        return ModelNotFoundError(message, param="model")
    if status in (400, 422):
        return InferenceError(message, status=400, code="invalid_request")
    if status == 429 or status == 503:
        return EngineUnavailableError(message, status=503, headers={"Retry-After": "5"})
    return UpstreamError(f"engine error {status}: {message}")
