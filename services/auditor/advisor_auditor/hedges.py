"""Hedge detection by wording: expressions of uncertainty and advice to verify.

A contradicted claim in a hedged answer is an error, but not a *confident* error
(docs/paper.md §3.4: "a specific, unhedged factual assertion"). Hedges are found by their words,
never guessed from tone; the matched phrases are reported so a reader can judge them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Each pattern is a family of wordings seen in advisory answers; all are case-insensitive.
HEDGE_PATTERNS: dict[str, str] = {
    "uncertainty": (
        r"\b(?:as far as I know|to (?:the best of )?my knowledge|I(?:'m| am) not (?:entirely |completely |fully )?(?:sure|certain)"
        r"|I (?:believe|think)|if I recall|I may (?:not )?(?:have|be)|I might (?:not )?(?:have|be)"
        r"|may not (?:have|be) (?:the )?(?:very )?(?:latest|up to date|current|accurate)"
        r"|not (?:fully )?up to date|could be (?:out of date|outdated)|may (?:be|have) (?:out of date|outdated|changed))\b"
    ),
    "verify_advice": (
        r"\b(?:(?:please |always |do )?(?:double-check|double check|verify|confirm|check)\b[^.\n]{0,80}?"
        r"\b(?:official|embassy|consulate|institution|university|admissions office|provider|website|page|source|details|figures|them|this|it)\b)"
    ),
    "may_change": (
        r"\b(?:(?:rules|fees|figures|policies|requirements|deadlines|details|numbers|amounts)[^.\n]{0,40}?"
        r"\b(?:can|may|might|could|do|often) (?:change|vary|be updated)|change (?:yearly|every year|annually|often)"
        r"|(?:are|is) updated (?:every|each) year|subject to change)\b"
    ),
}
_COMPILED = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in HEDGE_PATTERNS.items()}


@dataclass(frozen=True)
class Hedge:
    """A hedging phrase: its family, the words, and where they are."""

    family: str
    text: str
    start: int
    end: int


def find_hedges(text: str) -> list[Hedge]:
    """Every hedging phrase in `text`, in reading order."""
    found = [
        Hedge(family, match.group(0), match.start(), match.end())
        for family, pattern in _COMPILED.items()
        for match in pattern.finditer(text)
    ]
    return sorted(found, key=lambda h: h.start)


def is_hedged(text: str) -> bool:
    """Whether an answer hedges anywhere (the unit the paper scored was the answer)."""
    return any(pattern.search(text) for pattern in _COMPILED.values())
