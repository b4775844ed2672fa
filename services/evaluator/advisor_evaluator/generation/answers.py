"""Generate one candidate's answer to one prompt through the inference API, decoding pinned."""

from __future__ import annotations

import time
from typing import Any

from .chat_endpoint import ChatEndpoint


def generation_messages(prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
    """Single-turn chat, as in the paper: the first user turn, optionally after a system turn."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": prompt}]


def generate_answer(
    endpoint: ChatEndpoint, model: str, prompt: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """`model`'s answer to `prompt` under the plan's decoding `settings`, with what the gateway
    said about its chat template and how long it took."""
    started = time.monotonic()
    completion = endpoint.complete(
        model,
        generation_messages(prompt, settings.get("system_prompt")),
        temperature=settings["temperature"],
        top_p=settings["top_p"],
        max_tokens=settings["max_tokens"],
        seed=settings.get("seed"),
    )
    return {
        "text": completion.text,
        "finish_reason": completion.finish_reason,
        "elapsed_s": round(time.monotonic() - started, 3),
        "truncated": completion.finish_reason == "length",
        "completion_tokens": completion.completion_tokens,
        "chat_template_sha256": completion.template_sha256,
        "template_mismatch_flag": completion.template_mismatch,
    }
