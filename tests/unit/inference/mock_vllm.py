"""A recorded contract of vLLM's OpenAI server, as an httpx transport.

Shapes follow vLLM's source (entrypoints/openai serving_models + api_router): the LoRA routes
take `{"lora_name", "lora_path"}` / `{"lora_name"}` and answer 200 with a plain-text
"Success: ..." body; errors are JSON, `{"error": {...}}` in current releases and the flat
`{"object": "error", ...}` in older ones. Chat completions are OpenAI's shapes.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

SERVED = "mistralai/Mistral-7B-Instruct-v0.3"


class MockVllm:
    def __init__(self, *, old_error_shape: bool = False, max_model_len: int = 4096):
        self.requests: list[tuple[str, str, Any]] = []
        self.loras: dict[str, str] = {}
        self.old_error_shape = old_error_shape
        self.max_model_len = max_model_len

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def error(self, status: int, message: str, kind: str) -> httpx.Response:
        if self.old_error_shape:
            body = {
                "object": "error",
                "message": message,
                "type": kind,
                "param": None,
                "code": status,
            }
        else:
            body = {"error": {"message": message, "type": kind, "param": None, "code": status}}
        return httpx.Response(status, json=body)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))
        path = request.url.path
        if path == "/health":
            return httpx.Response(200)
        if path == "/v1/models":
            cards = [{"id": SERVED, "object": "model", "max_model_len": self.max_model_len}]
            cards += [{"id": n, "object": "model", "parent": SERVED} for n in self.loras]
            return httpx.Response(200, json={"object": "list", "data": cards})
        if path == "/v1/load_lora_adapter":
            if body["lora_name"] in self.loras:
                return self.error(
                    400,
                    f"The lora adapter '{body['lora_name']}' has already been loaded.",
                    "InvalidUserInput",
                )
            if "missing" in body["lora_path"]:
                return self.error(
                    404,
                    f"Loading lora {body['lora_name']} failed: No adapter found for {body['lora_path']}",
                    "NotFoundError",
                )
            self.loras[body["lora_name"]] = body["lora_path"]
            return httpx.Response(
                200, text=f"Success: LoRA adapter '{body['lora_name']}' added successfully."
            )
        if path == "/v1/unload_lora_adapter":
            if self.loras.pop(body["lora_name"], None) is None:
                return self.error(
                    404, f"The lora adapter '{body['lora_name']}' cannot be found.", "NotFoundError"
                )
            return httpx.Response(
                200, text=f"Success: LoRA adapter '{body['lora_name']}' removed successfully."
            )
        if path == "/v1/chat/completions":
            return self.chat(body)
        return httpx.Response(404, json={"detail": "Not Found"})

    def chat(self, body: dict[str, Any]) -> httpx.Response:
        model = body["model"]
        if model != SERVED and model not in self.loras:
            return self.error(404, f"The model `{model}` does not exist.", "NotFoundError")
        if body.get("max_tokens", 0) > 100:
            return self.error(
                400, "This model's maximum context length is 4096 tokens.", "BadRequestError"
            )
        if body.get("top_logprobs", 0) > 20:
            return self.error(
                400, "Requested top_logprobs=21 exceeds max_logprobs=20.", "BadRequestError"
            )
        choices = int(body.get("n", 1))
        usage = {
            "prompt_tokens": 7,
            "completion_tokens": 3 * choices,
            "total_tokens": 7 + 3 * choices,
        }

        def words(index: int) -> tuple[str, ...]:
            # One choice answers as before; several are told apart by their index.
            return ("answer ", "from ", model) if choices == 1 else ("answer ", f"{index} ", model)

        def logprobs(*pieces: str) -> dict[str, Any] | None:
            """vLLM's ChatCompletionLogProbs: one entry per token, `top_logprobs` alternatives."""
            if not body.get("logprobs"):
                return None
            top = body.get("top_logprobs") or 0
            return {
                "content": [
                    {
                        "token": w,
                        "logprob": -0.25,
                        "bytes": list(w.encode()),
                        "top_logprobs": [
                            {
                                "token": w if k == 0 else f"alt{k}",
                                "logprob": -0.25 - k,
                                "bytes": list((w if k == 0 else f"alt{k}").encode()),
                            }
                            for k in range(top)
                        ],
                    }
                    for w in pieces
                ]
            }

        if not body.get("stream"):
            return httpx.Response(
                200,
                json={
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 1,
                    "model": model,
                    "choices": [
                        {
                            "index": i,
                            "message": {"role": "assistant", "content": "".join(words(i))},
                            "finish_reason": "stop",
                            "logprobs": logprobs(*words(i)),
                        }
                        for i in range(choices)
                    ],
                    "usage": usage,
                },
            )
        chunks = [
            {"choices": [{"index": i, "delta": {"role": "assistant", "content": ""}}]}
            for i in range(choices)
        ]
        chunks += [
            {"choices": [{"index": i, "delta": {"content": w}, "logprobs": logprobs(w)}]}
            for position in range(3)
            for i in range(choices)
            for w in [words(i)[position]]
        ]
        chunks += [
            {"choices": [{"index": i, "delta": {}, "finish_reason": "length"}]}
            for i in range(choices)
        ]
        chunks += [{"choices": [], "usage": usage}]
        sse = "".join(
            f"data: {json.dumps({'id': 'c', 'object': 'chat.completion.chunk', **c})}\n\n"
            for c in chunks
        )
        return httpx.Response(
            200, text=sse + "data: [DONE]\n\n", headers={"content-type": "text/event-stream"}
        )
