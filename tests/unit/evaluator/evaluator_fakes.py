"""Fakes for the evaluator's tests: OpenAI-compatible endpoints that answer from code."""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from collections.abc import Callable

import httpx

from advisor_evaluator.errors import EndpointUnavailable
from advisor_evaluator.generation.chat_endpoint import Completion
from advisor_evaluator.judging.rubric import ONE_TOKEN_RUBRIC, RUBRIC

JUDGE = "judge-model"
KEY = "unit-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def consistent_judge(messages: list[dict[str, str]]) -> str:
    """Prefers the answer that says "correct", whichever slot it is in."""
    user = messages[-1]["content"]
    a = user.split("[Response A]")[1].split("[End of Response A]")[0]
    b = user.split("[Response B]")[1].split("[End of Response B]")[0]
    preference = "A" if "correct" in a and "correct" not in b else "B" if "correct" in b else "tie"
    score = {"A": (3, 1), "B": (1, 3), "tie": (2, 2)}[preference]
    return json.dumps(
        {
            "response_a": {"domain_accuracy": score[0], "helpfulness": score[0]},
            "response_b": {"domain_accuracy": score[1], "helpfulness": score[1]},
            "preference": preference,
        }
    )


def first_slot_judge(messages: list[dict[str, str]]) -> str:
    return 'My verdict: {"preference": "A"}'


def _alternatives(probabilities: dict[str, float]) -> list[tuple[str, float]]:
    """`(token, logprob)` most likely first, as an endpoint lists `top_logprobs`."""
    ranked = sorted(probabilities.items(), key=lambda kv: kv[1], reverse=True)
    return [(token, math.log(p)) for token, p in ranked]


def consistent_logprob_judge(messages: list[dict[str, str]]) -> list[tuple[str, float]]:
    """Puts 0.5 on the slot whose answer says "correct" (split over "A" and " A"), 0.15 on the
    other, 0.05 on tie; the rest on tokens that are no answer ("Response", "**")."""
    user = messages[-1]["content"]
    a = user.split("[Response A]")[1].split("[End of Response A]")[0]
    better = "A" if "correct" in a else "B"
    worse = "B" if better == "A" else "A"
    return _alternatives(
        {better: 0.3, f" {better}": 0.2, worse: 0.15, "tie": 0.05, "Response": 0.2, "**": 0.1}
    )


def first_slot_logprob_judge(messages: list[dict[str, str]]) -> list[tuple[str, float]]:
    """Leans to slot A whatever it holds: A 0.6, B 0.3."""
    return _alternatives({"A": 0.6, "B": 0.3, "The": 0.1})


def no_answer_logprob_judge(messages: list[dict[str, str]]) -> list[tuple[str, float]]:
    """Its likeliest tokens hold no option at all: unparseable."""
    return _alternatives({"Response": 0.7, "The": 0.2})


class FakeEndpoint:
    """Serves `models`; candidates answer `answers[model](prompt)`, the judge via `judge`."""

    def __init__(
        self,
        models: dict[str, Callable[[str], str]],
        judge: Callable | None = None,
        template: str | None = "a" * 64,
        reachable: bool = True,
        judge_logprobs: Callable | None = None,
    ):
        """`judge_logprobs` answers the one-token question with `(token, logprob)`
        alternatives; without it the judge ignores `logprobs`, as an endpoint without them
        does, and is asked again for the JSON verdict."""
        self.models, self.judge, self.template, self.reachable = models, judge, template, reachable
        self.judge_logprobs = judge_logprobs
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def list_models(self) -> list[dict]:
        if not self.reachable:
            raise EndpointUnavailable("listing models: endpoint unreachable (APIConnectionError)")
        names = list(self.models) + ([JUDGE] if self.judge else [])
        return [{"id": name, "object": "model"} for name in names]

    def complete(self, model: str, messages: list[dict[str, str]], **decoding) -> Completion:
        with self.lock:
            self.calls[model] += 1
        if messages[0]["content"] == ONE_TOKEN_RUBRIC:
            assert decoding["max_tokens"] == 1
            if self.judge_logprobs is None:
                return Completion("A", "length", None, 1)
            top = self.judge_logprobs(messages)[: decoding["top_logprobs"]]
            return Completion(top[0][0], "length", None, 1, first_token_top=top)
        if messages[0]["content"] == RUBRIC:
            assert self.judge is not None
            return Completion(self.judge(messages), "stop", None, 10)
        text = self.models[model](messages[-1]["content"])
        finish = "length" if len(text) > decoding["max_tokens"] else "stop"
        return Completion(text[: decoding["max_tokens"]], finish, self.template, 10)


def counting_auditor(seen: list[httpx.Request]):
    """An auditor that counts each 'WRONG' in an answer as a contradicted, unhedged claim and
    each 'RIGHT' as a supported one, and reports them per answer as the real one does."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            seen.append(request)
            return httpx.Response(202, json={"id": f"audit-{len(seen)}", "status": "queued"})
        body = json.loads(seen[-1].read())["answers"]
        answers = [json.loads(line) for line in body.splitlines()]
        per_answer = {}
        for answer in answers:
            text = answer["messages"][-1]["content"]
            wrong, right = text.count("WRONG"), text.count("RIGHT")
            per_answer[answer["id"]] = {
                "claims": wrong + right,
                "supported": right,
                "contradicted": wrong,
                "unverifiable": 0,
                "confident_errors": wrong,
            }
        total = sum(c["confident_errors"] > 0 for c in per_answer.values())
        return httpx.Response(
            200,
            json={
                "id": request.url.path.rsplit("/", 1)[-1],
                "status": "succeeded",
                "summary": {
                    "confident_errors": total,
                    "answers": {"confident_errors": total, "per_answer": per_answer},
                },
            },
        )

    return handle
