"""Values an answer computes from others, and values it rounds.

An adviser multiplies and adds: "UF 650 per semester, which is UF 1,300 a year", "a deposit of
two months' rent (about 660 SLN)", "46 SLN a month, roughly 550 SLN a year", "UF 180 plus UF 45:
UF 225". Such a value is not stated in the sources, so a different source value is no evidence
against it; only its inputs can be checked. Likewise "roughly 2,270" for a source's 2,268 is the
same figure, rounded. These are arithmetic facts, true of any corpus.
"""

from __future__ import annotations

import math
import re
from itertools import combinations

from .values import Value

# How many months a period holds: a value per month and one per year differ by a factor of 12.
_PERIOD_MONTHS = {
    "week": 12 / 52,
    "month": 1.0,
    "semester": 6.0,
    "term": 4.0,
    "quarter": 3.0,
    "year": 12.0,
}
_PERIOD = re.compile(
    r"^\W{0,3}(?:per|a|an|each|every|for (?:the|a|one|each)|/)\s*(?:academic\s+)?"
    r"(?P<unit>week|month|semester|term|quarter|year)\b"
    r"|^\W{0,3}(?P<adj>weekly|monthly|annually|annual|yearly)\b",
    re.IGNORECASE,
)
_ADJECTIVE_PERIOD = {"weekly": "week", "monthly": "month", "annual": "year", "annually": "year"}
_ADJECTIVE_PERIOD["yearly"] = "year"
_WORD_FACTORS = {
    "half": 0.5,
    "twice": 2.0,
    "double": 2.0,
    "two": 2.0,
    "three": 3.0,
    "four": 4.0,
    "five": 5.0,
    "six": 6.0,
    "seven": 7.0,
    "eight": 8.0,
    "nine": 9.0,
    "ten": 10.0,
    "eleven": 11.0,
    "twelve": 12.0,
    "eighteen": 18.0,
    "twenty-four": 24.0,
    "thirty-six": 36.0,
}
# A count of periods or parts ("over 4 semesters", "in 2 instalments"), not a value itself.
_SMALL_NUMBER = re.compile(
    r"\b(?P<n>\d{1,2}(?:\.\d)?)(?=[\s-]+(?:academic\s+)?(?:years?|months?|semesters?|terms?|weeks?|"
    r"instalments?|installments?|payments?)\b)",
    re.IGNORECASE,
)
_FACTOR_WORD = re.compile(r"\b(?:" + "|".join(_WORD_FACTORS) + r")\b", re.IGNORECASE)
_APPROXIMATE_WORD = re.compile(
    r"\b(?:about|around|roughly|approximately|approx|nearly|almost|circa|just (?:under|over|"
    r"below|above)|a little (?:under|over|more than|less than)|close to)\b",
    re.IGNORECASE,
)
EXACT_TOLERANCE = 0.005  # a computed figure may drop the cents
ROUNDED_TOLERANCE = 0.05  # "roughly" covers a rounding to two or three significant digits


def period_of(text: str, value: Value) -> str | None:
    """The period a value is stated per ("UF 88 a month" -> month), from the words after it."""
    match = _PERIOD.match(text[value.end : value.end + 30])
    if not match:
        return None
    return (
        match.group("unit").lower()
        if match.group("unit")
        else _ADJECTIVE_PERIOD[match.group("adj").lower()]
    )


def is_approximate(text: str, value: Value) -> bool:
    """Whether the words before a value say it is rounded; the word covers a list that
    follows it ("roughly UF 1,040 in A, UF 970 in B and UF 890 in C")."""
    before = re.split(r"[.;:!?]\s", text[: value.start])[-1]
    return bool(_APPROXIMATE_WORD.search(before[-90:]))


def factors_in(text: str) -> set[float]:
    """Multipliers a sentence names: "two months' rent", "the three-year degree", "half"."""
    found = {_WORD_FACTORS[m.group(0).lower()] for m in _FACTOR_WORD.finditer(text)}
    for match in _SMALL_NUMBER.finditer(text):
        number = float(match.group("n"))
        if 1 < number <= 48:
            found.add(number)
    return found


def _close(a: float, b: float, tolerance: float) -> bool:
    return abs(a - b) <= tolerance * max(abs(a), abs(b), 1.0)


def _amount(value: Value) -> float | None:
    if value.kind not in ("money", "score", "percent", "hours") or len(value.key) < 2:
        return None
    try:
        return float(value.key[1])  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _same_unit(a: Value, b: Value) -> bool:
    return a.kind == b.kind and a.key[0] == b.key[0]


def rounds_to(claimed: Value, claim_text: str, source: Value) -> bool:
    """Whether a claimed value the answer marks as rounded is the source's value, rounded."""
    a, b = _amount(claimed), _amount(source)
    if a is None or b is None or not _same_unit(claimed, source) or a == b:
        return False
    return is_approximate(claim_text, claimed) and _close(a, b, ROUNDED_TOLERANCE)


def scaled_from(
    claimed: Value, claim_text: str, source: Value, source_text: str, factors: set[float]
) -> bool:
    """Whether the claimed value is the source's value times a factor the claim names, or
    converted from the source's period to the claim's ("UF 88 a month" -> "UF 1,056 a year")."""
    a, b = _amount(claimed), _amount(source)
    if a is None or b is None or b == 0 or not _same_unit(claimed, source) or a == b:
        return False
    tolerance = ROUNDED_TOLERANCE if is_approximate(claim_text, claimed) else EXACT_TOLERANCE
    multipliers = set(factors)
    own, theirs = period_of(claim_text, claimed), period_of(source_text, source)
    if own and theirs and own != theirs:
        multipliers.add(_PERIOD_MONTHS[own] / _PERIOD_MONTHS[theirs])
    # A period conversion and a count of periods may combine ("UF 650 per semester ...
    # UF 2,600 across the two-year MSc" = 650 x 2 semesters a year x 2 years).
    # A total is split as often as it is multiplied ("UF 9,800, in two instalments of 4,900").
    multipliers |= {1 / k for k in multipliers}
    combined = multipliers | {x * y for x in multipliers for y in multipliers}
    return any(_close(a, b * k, tolerance) for k in combined)


def derived_within(claimed: Value, claim_text: str, others: list[Value]) -> bool:
    """Whether the claimed value is computed from the claim's other values: their sum or
    difference, or one of them times a factor the claim names or converted between periods."""
    a = _amount(claimed)
    if a is None:
        return False
    peers = [
        v for v in others if v is not claimed and _same_unit(claimed, v) and _amount(v) is not None
    ]
    if not peers:
        return False
    tolerance = ROUNDED_TOLERANCE if is_approximate(claim_text, claimed) else EXACT_TOLERANCE
    amounts = [_amount(v) or 0.0 for v in peers]
    for size in range(2, min(len(amounts), 5) + 1):
        for group in combinations(amounts, size):
            if _close(a, sum(group), tolerance):
                return True
    for x, y in combinations(amounts, 2):
        if _close(a, abs(x - y), tolerance):
            return True
    factors = factors_in(claim_text)
    return any(scaled_from(claimed, claim_text, v, claim_text, factors) for v in peers)


def complement_of(claimed: Value, source: Value) -> bool:
    """Whether a claimed percentage is what remains of the source's ("you pay 30%" against
    "70% covered"): the claim states the other share of the same whole."""
    if claimed.kind != "percent" or source.kind != "percent":
        return False
    a, b = _amount(claimed), _amount(source)
    return a is not None and b is not None and a != b and math.isclose(a + b, 100.0)
