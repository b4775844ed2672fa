"""The judge's instructions: the paper's rubric (PAPER.md §5.3), with both answers anonymised.

The judge sees "Response A" and "Response B" only; which candidate sits in which slot is decided
by the pair's order and never told to the judge. Every pair is judged in both orders.
"""

from __future__ import annotations

RUBRIC = """You are an expert advisor for students who want to study abroad. You compare two \
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
- The order of the responses is arbitrary; it must not influence you.

Answer with one JSON object and nothing else:
{"response_a": {"domain_accuracy": <0-3>, "helpfulness": <0-3>, "note": "<at most 15 words>"}, \
"response_b": {"domain_accuracy": <0-3>, "helpfulness": <0-3>, "note": "<at most 15 words>"}, \
"preference": "A" | "B" | "tie"}"""


def judge_messages(question: str, response_a: str, response_b: str) -> list[dict[str, str]]:
    """The chat messages of one blind comparison."""
    user = (
        f"Student question:\n{question}\n\n"
        f"[Response A]\n{response_a}\n[End of Response A]\n\n"
        f"[Response B]\n{response_b}\n[End of Response B]\n\n"
        "Return the JSON object now."
    )
    return [{"role": "system", "content": RUBRIC}, {"role": "user", "content": user}]
