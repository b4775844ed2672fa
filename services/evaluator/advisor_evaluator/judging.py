"""Judge one (challenger, baseline) pair on one item in one order, blind.

By default the judge answers with one token (A, B or tie) and its verdict is read from that
token's probabilities (`verdict_logprobs`): it always decides, and the margin says how firmly.
A judge whose endpoint returns no logprobs (or refuses the parameter) is asked again for the
paper's JSON verdict, parsed from free text. Each record says which method produced it.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from .errors import EndpointRejected
from .generation.chat_endpoint import ChatEndpoint, Completion
from .jobs.pipeline import WorkUnit, plan_item
from .jobs.results import JobResults, generation_key
from .jobs.runtime import Runtime
from .judge_rubric import judge_messages, one_token_messages
from .pairwise import Order, slot_texts
from .verdict_logprobs import JUDGE_TOP_LOGPROBS, read_logprob_verdict
from .verdict_parsing import SlotScores, Verdict, parse_verdict

MAX_STORED_REPLY = 8000


def _ask_for_one_token(
    endpoint: ChatEndpoint, judge: dict[str, Any], question: str, a: str, b: str
) -> Completion | None:
    """The one-token verdict with its alternatives; None when the endpoint gives no logprobs
    and the method allows falling back to free text."""
    try:
        completion = endpoint.complete(
            judge["model"],
            one_token_messages(question, a, b),
            temperature=0.0,
            top_p=1.0,
            max_tokens=1,
            top_logprobs=judge.get("top_logprobs", JUDGE_TOP_LOGPROBS),
        )
    except EndpointRejected:
        if judge.get("method") == "logprobs":
            raise
        return None  # the endpoint refused logprobs (a 400 names the parameter)
    if completion.first_token_top is None:
        if judge.get("method") == "logprobs":
            raise EndpointRejected(f"the judge {judge['model']!r} returned no logprobs")
        return None
    return completion


def judge_unit(runtime: Runtime, plan: dict[str, Any], results: JobResults, unit: WorkUnit) -> None:
    """Ask the judge, read its verdict, store both (an unparseable reply is a result too)."""
    item = plan_item(plan, str(unit.item))
    order: Order = "ab" if unit.order == "ab" else "ba"
    challenger = results.get(generation_key(unit.candidate, str(unit.item)))["text"]
    baseline = results.get(generation_key(plan["baseline"], str(unit.item)))["text"]
    response_a, response_b = slot_texts(order, challenger, baseline)
    judge = plan["judge"]
    endpoint = runtime.judge(judge.get("endpoint"))
    started = time.monotonic()
    record: dict[str, Any] = {}
    completion = None
    if judge.get("method", "text") != "text":  # plans made before logprobs judged by text
        completion = _ask_for_one_token(endpoint, judge, item["prompt"], response_a, response_b)
    if completion is not None:
        assert completion.first_token_top is not None
        reading = read_logprob_verdict(completion.first_token_top)
        verdict = Verdict(reading.preference, SlotScores(None, None), SlotScores(None, None))
        record["method"] = "logprobs"
        record["logprobs"] = {
            **reading.to_dict(),
            "top": [[token, round(logprob, 6)] for token, logprob in completion.first_token_top],
        }
    else:
        completion = endpoint.complete(
            judge["model"],
            judge_messages(item["prompt"], response_a, response_b),
            temperature=judge["temperature"],
            top_p=1.0,
            max_tokens=judge["max_tokens"],
        )
        verdict = parse_verdict(completion.text)
        record["method"] = "text"
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
            },
            **record,
        },
    )
