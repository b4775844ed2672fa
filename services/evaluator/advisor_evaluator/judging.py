"""Judge one (challenger, baseline) pair on one item in one order, blind."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from .generation import plan_item
from .judge_rubric import judge_messages
from .pairwise import Order, slot_texts
from .pipeline import WorkUnit
from .results import JobResults, generation_key
from .runtime import Runtime
from .verdict_parsing import parse_verdict

MAX_STORED_REPLY = 8000


def judge_unit(runtime: Runtime, plan: dict[str, Any], results: JobResults, unit: WorkUnit) -> None:
    """Ask the judge, parse its verdict, store both (an unparseable reply is a result too)."""
    item = plan_item(plan, str(unit.item))
    order: Order = "ab" if unit.order == "ab" else "ba"
    challenger = results.get(generation_key(unit.candidate, str(unit.item)))["text"]
    baseline = results.get(generation_key(plan["baseline"], str(unit.item)))["text"]
    response_a, response_b = slot_texts(order, challenger, baseline)
    judge = plan["judge"]
    started = time.monotonic()
    completion = runtime.judge(judge.get("endpoint")).complete(
        judge["model"],
        judge_messages(item["prompt"], response_a, response_b),
        temperature=judge["temperature"],
        top_p=1.0,
        max_tokens=judge["max_tokens"],
    )
    verdict = parse_verdict(completion.text)
    results.put_once(
        unit.result_key,
        {
            "candidate": unit.candidate,
            "baseline": plan["baseline"],
            "item": item["key"],
            "order": order,
            "length_a": len(response_a),
            "length_b": len(response_b),
            "reply": completion.text[:MAX_STORED_REPLY],
            "finish_reason": completion.finish_reason,
            "elapsed_s": round(time.monotonic() - started, 3),
            "verdict": {
                "preference": verdict.preference,
                "a": asdict(verdict.a),
                "b": asdict(verdict.b),
            },  # fmt: skip
        },
    )
