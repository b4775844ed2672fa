"""Fakes for the evaluator's tests: OpenAI-compatible endpoints that answer from code."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable

from advisor_evaluator.chat_endpoint import Completion
from advisor_evaluator.errors import EndpointUnavailable
from advisor_evaluator.judge_rubric import RUBRIC

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
    return json.dumps({"response_a": {"domain_accuracy": score[0], "helpfulness": score[0]},
                       "response_b": {"domain_accuracy": score[1], "helpfulness": score[1]},
                       "preference": preference})  # fmt: skip


def first_slot_judge(messages: list[dict[str, str]]) -> str:
    return 'My verdict: {"preference": "A"}'


class FakeEndpoint:
    """Serves `models`; candidates answer `answers[model](prompt)`, the judge via `judge`."""

    def __init__(self, models: dict[str, Callable[[str], str]], judge: Callable | None = None,
                 template: str | None = "a" * 64, reachable: bool = True):  # fmt: skip
        self.models, self.judge, self.template, self.reachable = models, judge, template, reachable
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
        if messages[0]["content"] == RUBRIC:
            assert self.judge is not None
            return Completion(self.judge(messages), "stop", None, 10)
        text = self.models[model](messages[-1]["content"])
        finish = "length" if len(text) > decoding["max_tokens"] else "stop"
        return Completion(text[: decoding["max_tokens"]], finish, self.template, 10)
