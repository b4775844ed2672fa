"""The paper's two findings, read from one evaluation report of the demo (pure functions).

(a) The fine-tune moves toward its references: Δ BERTScore F1 against the base model > 0 with
    a paired CI that excludes 0.
(b) The fine-tune on the ungated data makes more source-contradicted claims than the one on
    the gated data: Δ contradicted claims per answer (ungated − gated) > 0 with a paired CI
    that excludes 0.

A finding is "shown", "reversed" (the CI excludes 0 on the other side) or "not shown"; a finding
not shown says why in figures: the measured effect, its CI, n and the minimum detectable effect
at 80 % power (what this many prompts could have detected).
"""

from __future__ import annotations

from typing import Any


def _interval(estimate: dict[str, Any], digits: int) -> str:
    return (
        f"{estimate['value']:+.{digits}f} [{estimate['low']:+.{digits}f}, "
        f"{estimate['high']:+.{digits}f}]"
    )


def _status(estimate: dict[str, Any] | None) -> str:
    if not estimate or estimate.get("low") is None:
        return "not measured"
    if estimate["low"] > 0:
        return "shown"
    if estimate["high"] < 0:
        return "reversed"
    return "not shown"


def _why_not(estimate: dict[str, Any], digits: int, unit: str) -> str:
    mde = estimate.get("mde")
    size = (
        f"; with n = {estimate['n']} prompts only a difference of {mde:.{digits}f} {unit} "
        "or more would show (the minimum detectable effect at 80 % power)"
        if mde is not None
        else ""
    )
    return f"the CI covers 0{size}"


def fidelity_finding(evaluation: dict[str, Any], challenger: str) -> dict[str, Any]:
    """Finding (a) for one fine-tune against the base model."""
    comparison = next(c for c in evaluation["comparisons"] if c["challenger"] == challenger)
    estimate = comparison.get("bertscore_f1_delta")
    status = _status(estimate)
    if status == "not measured":
        return {"status": status, "estimate": None, "text": "BERTScore was not measured"}
    assert estimate is not None
    figure = f"Δ BERTScore F1 {_interval(estimate, 3)}"
    text = {
        "shown": f"shown: {figure}, closer to the references than the base model",
        "reversed": f"reversed: {figure}, further from the references than the base model",
        "not shown": f"not shown: {figure}; {_why_not(estimate, 3, 'F1')}",
    }[status]
    return {"status": status, "estimate": estimate, "text": text}


def gating_finding(evaluation: dict[str, Any], ungated: str, gated: str) -> dict[str, Any]:
    """Finding (b): the ungated fine-tune against the gated one, answer by answer."""
    contrast = next(
        (c for c in evaluation.get("contrasts") or [] if (c["a"], c["b"]) == (ungated, gated)),
        None,
    )
    estimate = ((contrast or {}).get("correctness") or {}).get("contradicted_delta")
    status = _status(estimate)
    if status == "not measured":
        return {
            "status": status,
            "estimate": None,
            "text": "not measured: the auditor gave no per-answer counts",
        }
    assert estimate is not None
    figure = f"Δ contradicted claims per answer (ungated − gated) {_interval(estimate, 2)}"
    text = {
        "shown": f"shown: {figure}; the fine-tune on ungated data states more claims the "
        "sources contradict",
        "reversed": f"reversed: {figure}; here the gated fine-tune states more contradicted claims",
        "not shown": f"not shown: {figure}; {_why_not(estimate, 2, 'claims per answer')}",
    }[status]
    return {"status": status, "estimate": estimate, "text": text}
