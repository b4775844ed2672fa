"""Currencies read from the corpus, not from a fixed list.

A fictional or simply unlisted currency ("TVP 1,350", "SJK 11,200") reads like a test score
("ALT 7.0") to a parser that only knows EUR/USD/GBP: the amount would then be compared with
scores and thresholds. A corpus names its own currencies in two ways, and both are read here:

- by use: a three-letter code written next to amounts in sentences about fees, costs or
  payments more often than in sentences about scores;
- by declaration: "the Skjold crown (code SJK)", "All amounts in Tavoran pearls (TVP)", which
  also gives the currency's name, so "1,200 pearls" is read as TVP 1,200.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

# A code is two to four capitals ("UF", "SJK") or a capital and a small letter ("Kr"); the
# latter are also short English words ("In 2027", "By 15 May"), which never count as codes.
_CODE = r"[A-Z]{2,4}|[A-Z][a-z]"
_CODE_BEFORE = re.compile(rf"\b(?P<code>{_CODE})\s?\d[\d,.\u202f ]*")
_CODE_AFTER = re.compile(rf"\d[\d,.]*\s?(?P<code>{_CODE})\b")
_SHORT_WORDS = frozenset(
    "Am An As At Be By Do Go He If In Is It Me My No Of On Or So To Up Us We".split()
)
_MONEY_WORDS = re.compile(
    r"\b(?:fees?|costs?|tuition|price|pays?|paid|payable|payments?|stipends?|allowances?|"
    r"charges?|charged|deposits?|premiums?|levy|salary|wages?|budget|funds|insurance|cover|"
    r"deductible|grants?|waiver|rent|amounts?|instalments?|installments?|per (?:month|year|"
    r"semester|week|person|visit|day)|a (?:month|year)|monthly|annual|yearly|currency)\b",
    re.IGNORECASE,
)
_SCORE_WORDS = re.compile(
    r"\b(?:score|scores|overall|band|bands|section|total|points?|test|exam|level|gpa)\b",
    re.IGNORECASE,
)
_DECLARED = re.compile(
    r"\b(?P<name>[a-z]+)\s*\((?:(?:currency\s+)?code:?\s+)?(?P<code>[A-Z]{3})\)", re.IGNORECASE
)


@dataclass(frozen=True)
class Currencies:
    """Currency codes and names a corpus uses beyond the built-in ones."""

    codes: frozenset[str] = frozenset()
    names: dict[str, str] = field(default_factory=dict)  # "pearl" / "pearls" -> "TVP"
    # Tests the corpus declares with their acronym: "borealis english test" -> "BET", so that
    # "a Borealis English Test score of 7.0" and "BET 7.0" are scores on one scale.
    tests: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.codes, tuple(sorted(self.names.items())), tuple(sorted(self.tests))))


NONE = Currencies()


def read_currencies(texts: Iterable[str]) -> Currencies:
    """The currencies a corpus uses, by how its codes are used and what it declares."""
    money: Counter[str] = Counter()
    score: Counter[str] = Counter()
    declared: dict[str, str] = {}
    texts_seen = list(texts)
    for text in texts_seen:
        for sentence in re.split(r"(?<=[.!?;|])\s+", text):
            codes = {m.group("code") for m in _CODE_BEFORE.finditer(sentence)} | {
                m.group("code") for m in _CODE_AFTER.finditer(sentence)
            }
            for code in codes - _SHORT_WORDS:
                # A code before a number with a thousands separator is money, whatever the
                # sentence says ("SJK 11,200"); scores are not written that way.
                thousands = re.search(rf"\b{code}\s?\d{{1,3}},\d{{3}}\b", sentence)
                if thousands or _MONEY_WORDS.search(sentence):
                    money[code] += 1
                if _SCORE_WORDS.search(sentence):
                    score[code] += 1
            for match in _DECLARED.finditer(sentence):
                if _MONEY_WORDS.search(sentence) or "currenc" in sentence.lower():
                    declared[match.group("code")] = match.group("name").lower()
    codes = {c for c in money if money[c] >= 2 and money[c] > score[c]} | set(declared)
    tests = {
        long.lower(): short
        for text in texts_seen
        for long, short in declared_acronyms(text)
        if short not in codes
    }
    names: dict[str, str] = {}
    for code, name in declared.items():
        if code in codes and name not in {"the", "in", "of", "code"}:
            singular = name[:-1] if name.endswith("s") else name
            names[singular] = code
            names[singular + "s"] = code
    return Currencies(frozenset(codes), names, tests)


_LONG_FORM = re.compile(
    r"(?P<long>(?:[A-Z][\w'-]*\s+(?:(?:of|for|and|the|in)\s+)?){1,7})\((?P<short>[A-Z][A-Za-z]{1,7})\)"
)


def declared_acronyms(text: str) -> list[tuple[str, str]]:
    """(long form, acronym) pairs a text declares: "Borealis English Test (BET)",
    "Brennport Institute of Technology (BIT)". The acronym's capitals must be the initials of
    the long form's last capitalised words."""
    found = []
    for match in _LONG_FORM.finditer(text):
        words = match.group("long").split()
        capitals = [c for c in match.group("short") if c.isupper()]
        initials = [(i, w) for i, w in enumerate(words) if w[:1].isupper()]
        if len(capitals) < 2 or len(initials) < len(capitals):
            continue
        tail = initials[-len(capitals) :]
        if [w[0] for _, w in tail] != capitals:
            continue
        found.append((" ".join(words[tail[0][0] :]), match.group("short")))
    return found
