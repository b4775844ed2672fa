"""The report's one-line verdict per comparison, in plain words.

Fidelity is the reference-similarity signal (BERTScore F1 delta vs the baseline); quality is the
blind judge's net preference (share of items won minus share lost). A direction is only claimed
when its 95% CI excludes zero, so "fidelity up, quality down" — the paper's central finding — is
said exactly when the two signals disagree beyond their CIs.
"""

from __future__ import annotations

from typing import Literal

from .statistics import Estimate

Direction = Literal["up", "down", "unchanged", "unknown"]


def direction(estimate: Estimate | None) -> Direction:
    if estimate is None or estimate.n == 0:
        return "unknown"
    if estimate.low > 0:
        return "up"
    if estimate.high < 0:
        return "down"
    return "unchanged"


def _interval(estimate: Estimate, *, percent: bool = False) -> str:
    if percent:
        return (f"{estimate.value * 100:+.0f}% [{estimate.low * 100:+.0f}%, "
                f"{estimate.high * 100:+.0f}%]")  # fmt: skip
    return f"{estimate.value:+.3f} [{estimate.low:+.3f}, {estimate.high:+.3f}]"


def verdict_line(
    challenger: str,
    baseline: str,
    fidelity: Estimate | None,
    quality: Estimate | None,
    *,
    judge_reliable: bool | None = None,
    position_consistency: float | None = None,
    confident_errors: tuple[int, int] | None = None,
) -> str:
    """`fidelity <dir>, quality <dir>: ...` comparing `challenger` with `baseline`."""
    fid = direction(fidelity)
    qual = direction(quality) if judge_reliable is not False else "unknown"
    head = f"fidelity {fid}, quality {qual}"
    parts: list[str] = []
    if fidelity is not None and fidelity.n:
        closer = {"up": "closer to", "down": "further from"}.get(fid, "no closer to")
        parts.append(
            f"{challenger} is {closer} the references than {baseline} "
            f"(BERTScore F1 {_interval(fidelity)})"
        )
    else:
        parts.append("reference similarity was not measured")
    if judge_reliable is False and position_consistency is None:
        parts.append(
            "no pair got a readable verdict in both orders, so the judge says nothing about quality"
        )
    elif judge_reliable is False and position_consistency is not None:
        parts.append(
            f"the judge was position-consistent on only {position_consistency * 100:.0f}% of "
            "pairs, so its preferences are not evidence of quality"
        )
    elif quality is None or quality.n == 0:
        parts.append("answer quality was not judged")
    else:
        preferred = {"up": challenger, "down": baseline}.get(qual)
        if preferred is None:
            parts.append(
                f"the judge prefers neither beyond its CI (net preference "
                f"{_interval(quality, percent=True)})"
            )
        else:
            parts.append(
                f"the judge prefers {preferred} (net preference {_interval(quality, percent=True)})"
            )
    if confident_errors is not None:
        parts.append(f"confident errors {confident_errors[0]} vs {confident_errors[1]}")
    line = f"{head}: " + "; ".join(parts)
    if {fid, qual} == {"up", "down"}:
        line += (
            ". The signals disagree beyond their CIs: similarity to the references is not "
            "answer quality."
        )
    elif fid in ("up", "down") and fid == qual:
        line += ". Both signals agree."
    else:
        line += "."
    return line
