"""The verdict of one candidate against the baseline, on three axes, in plain words.

- **correctness**: source-contradicted claims per answer (the auditor), lower is better;
- **preference**: the blind judge's preference, both orders of every pair combined;
- **fidelity**: BERTScore F1 against the references, higher is closer.

Each axis is a paired difference (challenger − baseline, item by item) with its 95 % CI. An axis
shows a difference only when its CI excludes zero. When it does not, the axis either shows
"no difference" (a difference that matters would have been detected: the minimum detectable
effect, MDE, is no larger than the smallest difference that matters on that axis) or is
"not measurable at this size" (the MDE is larger): the MDE is computed in both cases and said.

The axis that decides is the first of correctness, then preference, to show a difference:
source-verified correctness outranks a judge's taste, and similarity to the references is not
quality (the paper's finding: fidelity rose while the advisor got worse). When neither quality
axis shows a difference and fidelity does, fidelity is named as the only axis that moved, and
the verdict says that this is not evidence of a better advisor.

Pure functions: the report builder gives the figures, nothing here reads stored results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..scoring.statistics import Estimate, minimum_detectable_effect

Axis = Literal["correctness", "preference", "fidelity"]
Outcome = Literal[
    "better", "worse", "no difference", "not measurable", "not evidence", "not measured"
]
QUALITY_AXES: tuple[Axis, ...] = ("correctness", "preference")

# The smallest difference worth detecting on each axis, the yardstick of "not measurable".
# Correctness: one more (or fewer) contradicted claim in every fourth answer. Preference: a
# tenth of the probability scale (−1 … 1), or a fifth of the net win rate (wins − losses).
# Fidelity: 0.02 BERTScore F1, a third of the paper's +0.063.
RELEVANT_CONTRADICTED = 0.25
RELEVANT_PROBABILITY_PREFERENCE = 0.10
RELEVANT_NET_PREFERENCE = 0.20
RELEVANT_BERTSCORE = 0.02


@dataclass(frozen=True)
class AxisEvidence:
    """What one axis measured: the paired difference, the SD of the per-item differences (for
    the MDE) and how to read it."""

    axis: Axis
    estimate: Estimate | None
    sd: float | None
    measure: str  # what the number is, e.g. "contradicted claims per answer"
    higher_is_better: bool
    relevant: float
    # Why the figure is not evidence although measured (e.g. a judge that follows the slot).
    unusable: str | None = None
    # Why the axis was not measured at all (e.g. no auditor configured).
    missing: str | None = None


@dataclass(frozen=True)
class AxisReading:
    axis: Axis
    outcome: Outcome
    estimate: Estimate | None
    mde: float | None
    relevant: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "estimate": self.estimate.to_dict() if self.estimate else None,
            "mde": None if self.mde is None else round(self.mde, 6),
            "relevant": self.relevant,
            "text": self.text,
        }


@dataclass(frozen=True)
class ThreeAxisVerdict:
    outcome: str  # better | worse | closer to the references only | … | no difference shown
    deciding_axis: Axis | None
    text: str
    axes: dict[Axis, AxisReading]

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "deciding_axis": self.deciding_axis,
            "text": self.text,
            "axes": {name: reading.to_dict() for name, reading in self.axes.items()},
        }


def _signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}"


def _interval(estimate: Estimate, digits: int) -> str:
    return (
        f"{_signed(estimate.value, digits)} [{_signed(estimate.low, digits)}, "
        f"{_signed(estimate.high, digits)}]"
    )


def _digits(relevant: float) -> int:
    """Enough decimals to tell the smallest difference that matters apart from zero."""
    return 3 if relevant < 0.1 else 2


def _moved(evidence: AxisEvidence, estimate: Estimate) -> Outcome:
    up = estimate.low > 0
    return "better" if up == evidence.higher_is_better else "worse"


def _direction_words(evidence: AxisEvidence, outcome: Outcome) -> str:
    if evidence.axis == "fidelity":
        return "closer to the references" if outcome == "better" else "further from the references"
    if evidence.axis == "correctness":
        return "fewer contradicted claims" if outcome == "better" else "more contradicted claims"
    return "the judge prefers it" if outcome == "better" else "the judge prefers the baseline"


def read_axis(evidence: AxisEvidence) -> AxisReading:
    """One axis's outcome, with its figures in words (the MDE whenever nothing showed)."""
    estimate = evidence.estimate
    digits = _digits(evidence.relevant)
    if evidence.missing is not None or estimate is None or estimate.n == 0:
        reason = evidence.missing or "no paired figures"
        return AxisReading(
            evidence.axis,
            "not measured",
            None,
            None,
            evidence.relevant,
            f"{evidence.axis}: not measured ({reason})",
        )
    mde = minimum_detectable_effect(evidence.sd, estimate.n)
    figure = f"{evidence.measure} {_interval(estimate, digits)}, n = {estimate.n}"
    if evidence.unusable is not None:
        return AxisReading(
            evidence.axis,
            "not evidence",
            estimate,
            mde,
            evidence.relevant,
            f"{evidence.axis}: not evidence ({figure}): {evidence.unusable}",
        )
    if estimate.excludes_zero():
        outcome = _moved(evidence, estimate)
        words = _direction_words(evidence, outcome)
        return AxisReading(
            evidence.axis,
            outcome,
            estimate,
            mde,
            evidence.relevant,
            f"{evidence.axis}: {words} ({figure})",
        )
    if mde is None:
        return AxisReading(
            evidence.axis,
            "not measurable",
            estimate,
            None,
            evidence.relevant,
            f"{evidence.axis}: not measurable at this size ({figure}): too few "
            "items to compute a minimum detectable effect",
        )
    mde_text = f"{mde:.{digits}f}"
    if mde > evidence.relevant:
        return AxisReading(
            evidence.axis,
            "not measurable",
            estimate,
            mde,
            evidence.relevant,
            f"{evidence.axis}: not measurable at this size ({figure}): only a "
            f"difference of {mde_text} or more would show (the minimum detectable "
            f"effect at 80 % power), and {evidence.relevant:g} is what matters",
        )
    return AxisReading(
        evidence.axis,
        "no difference",
        estimate,
        mde,
        evidence.relevant,
        f"{evidence.axis}: no difference ({figure}): a difference of {mde_text} "
        "or more would have shown (the minimum detectable effect at 80 % power)",
    )


def three_axis_verdict(
    challenger: str, baseline: str, evidence: list[AxisEvidence]
) -> ThreeAxisVerdict:
    """The verdict of `challenger` against `baseline` from the three axes' evidence."""
    axes = {e.axis: read_axis(e) for e in evidence}
    moved = {name: r for name, r in axes.items() if r.outcome in ("better", "worse")}
    deciding = next((name for name in QUALITY_AXES if name in moved), None)
    fidelity = axes.get("fidelity")
    outcome: str  # an axis's outcome, or one that only a verdict has
    if deciding is not None:
        outcome = moved[deciding].outcome
        head = (
            f"{challenger} is a {outcome} advisor than {baseline}, decided by {axes[deciding].text}"
        )
    elif fidelity is not None and fidelity.outcome in ("better", "worse"):
        deciding = "fidelity"
        outcome = (
            "closer to the references only"
            if fidelity.outcome == "better"
            else "further from the references only"
        )
        head = (
            f"{challenger} is {outcome.removesuffix(' only')} than {baseline}, and only "
            "fidelity moved: neither source-verified correctness nor the judge shows a "
            "difference, so this is no evidence of a better advisor"
        )
    else:
        outcome = "no difference shown"
        head = f"no axis shows a difference between {challenger} and {baseline}"
    # A quality axis that decides is said in the head; fidelity deciding alone is said first.
    details = [axes["fidelity"].text] if deciding == "fidelity" else []
    details += [
        axes[n].text
        for n in ("correctness", "preference", "fidelity")
        if n in axes and n != deciding
    ]
    notes = _disagreements(axes, deciding)
    text = head + ". " + "; ".join(details) + "." + "".join(f" {n}" for n in notes)
    return ThreeAxisVerdict(outcome, deciding, text, axes)


def _disagreements(axes: dict[Axis, AxisReading], deciding: Axis | None) -> list[str]:
    """The paper's lesson, said where it happened: axes that moved in opposite directions."""
    notes = []
    quality = {axes[n].outcome for n in QUALITY_AXES if n in axes} & {"better", "worse"}
    fidelity = axes["fidelity"].outcome if "fidelity" in axes else None
    if len(quality) == 2:
        notes.append("The judge and the sources disagree; the sources decide.")
    if fidelity in ("better", "worse") and quality and fidelity not in quality:
        notes.append(
            "Similarity to the references and answer quality moved apart: "
            "similarity is not quality."
        )
    return notes
