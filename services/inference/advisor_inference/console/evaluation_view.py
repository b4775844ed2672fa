"""What the evaluation page shows, shaped from the evaluator's report and samples: the
headline cards, the candidates' figures, and each answer cut into plain and contradicted
pieces so the template can mark the claims the auditor found wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .charts import Interval


@dataclass(frozen=True)
class Card:
    """One headline figure: what it measures, its value (and unit), its interval and how to
    read it."""

    title: str
    subject: str
    value: str
    unit: str = ""
    interval: str = ""
    reading: str = ""
    tone: str = "neutral"  # good | bad | neutral | muted


@dataclass(frozen=True)
class CardGroup:
    """The cards of one candidate: fidelity, preference and correctness side by side."""

    candidate: str
    role: str
    cards: list[Card]


def _signed(value: float, digits: int = 3) -> str:
    return f"{value:+.{digits}f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _direction(low: float | None, high: float | None) -> str:
    """'up' / 'down' when the 95% CI excludes zero, else 'flat'."""
    if low is None or high is None:
        return "flat"
    return "up" if low > 0 else "down" if high < 0 else "flat"


def _correctness(report: dict[str, Any], candidate: dict[str, Any]) -> Card | None:
    errors = candidate.get("confident_errors")
    if errors is None:
        return None
    answers = candidate.get("generations") or report.get("items") or 0
    return Card(
        "Correctness",
        "confident errors",
        str(errors),
        f"error{'s' if errors != 1 else ''}",
        f"in {answers} answers",
        "contradicted by the sources, stated without a hedge",
        "bad" if errors else "good",
    )


def headline_cards(report: dict[str, Any]) -> list[CardGroup]:
    """For each challenger against the baseline: fidelity (Δ BERTScore F1), preference (the
    judge's net preference) and correctness (confident errors); then the baseline's own
    correctness, the figure the others are read against."""
    groups: list[CardGroup] = []
    baseline = report.get("baseline", "baseline")
    candidates = {c["name"]: c for c in report.get("candidates", [])}
    bias = report.get("judge_bias") or {}
    reliable = bool(bias.get("reliable"))
    for comparison in report.get("comparisons", []):
        name = comparison["challenger"]
        cards: list[Card] = []
        delta = comparison.get("bertscore_f1_delta") or {}
        if delta.get("n"):
            way = _direction(delta.get("low"), delta.get("high"))
            cards.append(
                Card(
                    "Fidelity",
                    f"Δ BERTScore F1 vs {baseline}",
                    _signed(delta["value"]),
                    "",
                    f"95% CI [{_signed(delta['low'])}, {_signed(delta['high'])}]",
                    {
                        "up": "closer to the references",
                        "down": "further from the references",
                        "flat": "no clear change: the interval holds zero",
                    }[way],
                    {"up": "good", "down": "bad", "flat": "neutral"}[way],
                )
            )
        judge = comparison.get("judge") or {}
        net = judge.get("net_preference")
        if judge.get("pairs") and net:
            way = _direction(net.get("low"), net.get("high"))
            reading = (
                f"won {judge['win']}, tied {judge['tie']}, lost {judge['loss']} of "
                f"{judge['pairs']} pairs"
            )
            if not reliable:
                reading += "; the judge follows the slot order, not the answers: no evidence"
            cards.append(
                Card(
                    "Preference",
                    f"the judge, net vs {baseline}",
                    f"{net['value'] * 100:+.0f}%",
                    "",
                    f"95% CI [{net['low'] * 100:+.0f}%, {net['high'] * 100:+.0f}%]",
                    reading,
                    "muted"
                    if not reliable
                    else {"up": "good", "down": "bad", "flat": "neutral"}[way],
                )
            )
        correctness = _correctness(report, candidates.get(name, {}))
        if correctness is not None:
            cards.append(correctness)
        groups.append(CardGroup(name, "challenger", cards))
    base = _correctness(report, candidates.get(baseline, {}))
    if base is not None:
        groups.append(CardGroup(baseline, "baseline", [base]))
    return groups


def candidate_intervals(report: dict[str, Any], metric: str) -> list[Interval]:
    """Each candidate's mean `metric` with its CI, for an SVG chart."""
    rows = []
    for candidate in report.get("candidates", []):
        estimate = candidate.get(metric) or {}
        rows.append(
            Interval(
                candidate["name"], estimate.get("value"), estimate.get("low"), estimate.get("high")
            )
        )
    return rows


@dataclass(frozen=True)
class Piece:
    """A run of an answer's text; `finding` is the index of the contradicted claim it is."""

    text: str
    finding: int | None = None


def answer_pieces(text: str | None, findings: list[dict[str, Any]]) -> list[Piece]:
    """`text` cut at the contradicted claims' spans (overlapping or out-of-range spans are left
    unmarked rather than guessed)."""
    if not text:
        return []
    spans = sorted(
        (f["start"], f["end"], index)
        for index, f in enumerate(findings)
        if isinstance(f.get("start"), int)
        and isinstance(f.get("end"), int)
        and 0 <= f["start"] < f["end"] <= len(text)
    )
    pieces: list[Piece] = []
    position = 0
    for start, end, index in spans:
        if start < position:
            continue
        if start > position:
            pieces.append(Piece(text[position:start]))
        pieces.append(Piece(text[start:end], index))
        position = end
    if position < len(text):
        pieces.append(Piece(text[position:]))
    return pieces


@dataclass
class AnswerCell:
    candidate: str
    role: str
    pieces: list[Piece]
    text_missing: bool
    truncated: bool
    bertscore: float | None
    rouge: float | None
    judgement: dict[str, Any] | None
    audit: dict[str, Any] | None
    findings: list[dict[str, Any]] = field(default_factory=list)


def answer_cells(row: dict[str, Any]) -> list[AnswerCell]:
    cells = []
    for answer in row.get("answers", []):
        audit = answer.get("audit")
        findings = list((audit or {}).get("contradicted", []))
        cells.append(
            AnswerCell(
                candidate=answer["candidate"],
                role=answer["role"],
                pieces=answer_pieces(answer.get("text"), findings),
                text_missing=answer.get("text") is None,
                truncated=bool(answer.get("truncated")),
                bertscore=answer.get("bertscore_f1"),
                rouge=answer.get("rouge_l"),
                judgement=answer.get("judgement"),
                audit=audit,
                findings=findings,
            )
        )
    return cells


def verdict_text(order: dict[str, Any], challenger: str, baseline: str) -> str:
    """'prefers base (margin 0.64)' for one order's verdict."""
    prefers = order.get("prefers")
    if prefers is None:
        return "no readable verdict"
    who = {"challenger": challenger, "baseline": baseline, "tie": "neither (tie)"}[prefers]
    margin = order.get("margin")
    return f"prefers {who}" + (f" (margin {margin:.2f})" if margin is not None else "")


def percent(value: float | None) -> str:
    return _percent(value)
