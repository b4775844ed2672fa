"""Generate one candidate's answer to one prompt through the inference API, decoding pinned."""

from __future__ import annotations

import time
from typing import Any

from .jobs.pipeline import WorkUnit
from .jobs.results import JobResults
from .jobs.runtime import Runtime


def generation_messages(prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
    """Single-turn chat, as in the paper: the first user turn, optionally after a system turn."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": prompt}]


def generate_unit(
    runtime: Runtime, plan: dict[str, Any], results: JobResults, unit: WorkUnit
) -> None:
    """Generate and store `unit`'s answer (write-once: a stored answer is never replaced)."""
    item = plan_item(plan, str(unit.item))
    candidate = plan_candidate(plan, unit.candidate)
    settings = plan["generation"]
    started = time.monotonic()
    completion = runtime.inference().complete(
        candidate["name"],
        generation_messages(item["prompt"], settings.get("system_prompt")),
        temperature=settings["temperature"],
        top_p=settings["top_p"],
        max_tokens=settings["max_tokens"],
        seed=settings.get("seed"),
    )
    results.put_once(
        unit.result_key,
        {
            "candidate": candidate["name"],
            "item": item["key"],
            "text": completion.text,
            "finish_reason": completion.finish_reason,
            "elapsed_s": round(time.monotonic() - started, 3),
            "truncated": completion.finish_reason == "length",
            "completion_tokens": completion.completion_tokens,
            "chat_template_sha256": completion.template_sha256,
            "template_mismatch_flag": completion.template_mismatch,
        },
    )


def plan_item(plan: dict[str, Any], key: str) -> dict[str, Any]:
    return next(item for item in plan["items"] if item["key"] == key)


def plan_candidate(plan: dict[str, Any], key: str) -> dict[str, Any]:
    return next(c for c in plan["candidates"] if c["key"] == key)
