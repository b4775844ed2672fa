"""The judge's instructions: the paper's rubric (docs/paper.md §3.3), with both answers anonymised.

The judge sees "Response A" and "Response B" only; which candidate sits in which slot is decided
by the pair's order and never told to the judge. Every pair is judged in both orders.

Two answer formats share the criteria: one token ("A", "B" or "tie"), read from the judge's
token probabilities (`logprobs`), and the paper's JSON with scores, read from free text
(`parsing`) for judges that return no logprobs.
"""

from __future__ import annotations

CRITERIA = """You are an expert advisor for students who want to study abroad. You compare two \
anonymous answers to the same student question and judge them on substance, not style.

Score each response on two scales:
- domain_accuracy (0-3): 0 = wrong, hallucinated or unsafe; 1 = partly wrong or misleading; \
2 = mostly correct but generic or missing an important caveat; 3 = correct, domain-specific, \
actionable and appropriately caveated.
- helpfulness (0-3): 0 = useless or confusing; 1 = marginally useful; 2 = useful; \
3 = highly useful, clear, actionable and tailored to the question.

Rules:
- Judge usefulness, correctness and safety, not fluency.
- A longer or more confident answer is NOT better for that reason.
- A confidently wrong answer, an invented program, scholarship, rule or number, or an answer that \
accepts a false premise must get domain_accuracy 0 or 1.
- On visa and immigration rules, health insurance and healthcare, and deadlines, a missing caveat \
(check the official source; rules change) must lower domain_accuracy.
- The order of the responses is arbitrary; it must not influence you."""

JSON_FORMAT = """Answer with one JSON object and nothing else:
{"response_a": {"domain_accuracy": <0-3>, "helpfulness": <0-3>, "note": "<at most 15 words>"}, \
"response_b": {"domain_accuracy": <0-3>, "helpfulness": <0-3>, "note": "<at most 15 words>"}, \
"preference": "A" | "B" | "tie"}"""

ONE_TOKEN_FORMAT = """Weigh both scales for each response, then answer with exactly one word and \
nothing else: A if Response A is better, B if Response B is better, tie if neither is."""

RUBRIC = f"{CRITERIA}\n\n{JSON_FORMAT}"
ONE_TOKEN_RUBRIC = f"{CRITERIA}\n\n{ONE_TOKEN_FORMAT}"


def _comparison(question: str, response_a: str, response_b: str) -> str:
    return (
        f"Student question:\n{question}\n\n"
        f"[Response A]\n{response_a}\n[End of Response A]\n\n"
        f"[Response B]\n{response_b}\n[End of Response B]\n\n"
    )


def judge_messages(question: str, response_a: str, response_b: str) -> list[dict[str, str]]:
    """The chat messages of one blind comparison, answered with the JSON verdict."""
    user = _comparison(question, response_a, response_b) + "Return the JSON object now."
    return [{"role": "system", "content": RUBRIC}, {"role": "user", "content": user}]


def one_token_messages(question: str, response_a: str, response_b: str) -> list[dict[str, str]]:
    """The same comparison, answered with one token: A, B or tie."""
    user = _comparison(question, response_a, response_b) + "Which is better? Answer A, B or tie."
    return [{"role": "system", "content": ONE_TOKEN_RUBRIC}, {"role": "user", "content": user}]
