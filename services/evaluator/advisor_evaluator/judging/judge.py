"""Ask the judge which of two answers to one prompt is better, blind to whose they are.

By default the judge answers with one token (A, B or tie) and its verdict is read from that
token's probabilities (`logprobs`): it always decides, and the margin says how firmly.
A judge whose endpoint returns no logprobs (or refuses the parameter) is asked again for the
paper's JSON verdict, parsed from free text. Each record says which method produced it.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from ..errors import EndpointRejected
from ..generation.chat_endpoint import ChatEndpoint, Completion
from .logprobs import JUDGE_TOP_LOGPROBS, read_logprob_verdict
from .parsing import SlotScores, Verdict, parse_verdict
from .rubric import judge_messages, one_token_messages

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


def judge_pair(
    endpoint: ChatEndpoint, judge: dict[str, Any], question: str, response_a: str, response_b: str
) -> dict[str, Any]:
    """Ask the judge configured by `judge` about the answers in slots A and B; its reply, its
    verdict (an unparseable reply is a verdict too) and how it was read."""
    started = time.monotonic()
    record: dict[str, Any] = {}
    completion = None
    if judge.get("method", "text") != "text":  # plans made before logprobs judged by text
        completion = _ask_for_one_token(endpoint, judge, question, response_a, response_b)
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
            judge_messages(question, response_a, response_b),
            temperature=judge["temperature"],
            top_p=1.0,
            max_tokens=judge["max_tokens"],
        )
        verdict = parse_verdict(completion.text)
        record["method"] = "text"
    return {
        "reply": completion.text[:MAX_STORED_REPLY],
        "finish_reason": completion.finish_reason,
        "elapsed_s": round(time.monotonic() - started, 3),
        "verdict": {
            "preference": verdict.preference,
            "a": asdict(verdict.a),
            "b": asdict(verdict.b),
        },
        **record,
    }
