"""Find and normalise check-worthy values in text: amounts, dates, durations, hours, percentages,
score thresholds and access timing ("from arrival", "after 12 months", "never").

Wording varies ("EUR 1,200", "1200 euros", "€1,200"; "15 March 2027", "March 15, 2027",
"2027-03-15"), so every value is reduced to a comparable key; two values agree when their keys
do. Nothing here knows which value is right — that is the verifier's job.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from .units import NONE, Currencies

CURRENCY_WORDS = {
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "€": "EUR",
    "usd": "USD",
    "us dollars": "USD",
    "us dollar": "USD",
    "dollars": "USD",
    "dollar": "USD",
    "$": "USD",
    "gbp": "GBP",
    "pounds": "GBP",
    "pound": "GBP",
    "pounds sterling": "GBP",
    "£": "GBP",
    "chf": "CHF",
    "swiss francs": "CHF",
    "swiss franc": "CHF",
    "francs": "CHF",
    "jpy": "JPY",
    "yen": "JPY",
    "¥": "JPY",
    "aud": "AUD",
    "cad": "CAD",
    "inr": "INR",
    "rupees": "INR",
}
MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
# Days per unit, so "12 months" and "1 year" compare equal within tolerance.
UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25}
NEVER = math.inf

_AMOUNT = r"\d{1,3}(?:[,\u202f ]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CUR_BEFORE = r"EUR|USD|GBP|CHF|JPY|AUD|CAD|INR|€|\$|£|¥"
_CUR_AFTER = (
    r"EUR|USD|GBP|CHF|JPY|AUD|CAD|INR|euros?|US dollars?|dollars?|pounds(?: sterling)?|"
    r"Swiss francs?|francs|yen|rupees"
)


@lru_cache(maxsize=16)
def _money_pattern(currencies: Currencies) -> re.Pattern[str]:
    """Amounts with a built-in currency or one the corpus uses (see `units`)."""
    codes = "".join(f"|{c}" for c in sorted(currencies.codes))
    names = "".join(f"|{re.escape(n)}" for n in sorted(currencies.names, key=len, reverse=True))
    return re.compile(
        rf"(?P<cur1>{_CUR_BEFORE}{codes})\s?(?P<amt1>{_AMOUNT})(?P<k1>\s?k\b)?"
        rf"|(?P<amt2>{_AMOUNT})(?P<k2>k)?\s?(?P<cur2>{_CUR_AFTER}{codes}{names})\b",
        re.IGNORECASE,
    )


_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?"
_DATE = re.compile(
    rf"{_WEEKDAY}(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m1>{_MONTH_NAMES})\.?,?(?:\s+(?P<y1>\d{{4}}))?\b"
    rf"|{_WEEKDAY}(?P<m2>{_MONTH_NAMES})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y2>\d{{4}}))?"
    rf"|\b(?P<y3>\d{{4}})-(?P<m3>\d{{2}})-(?P<d3>\d{{2}})\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a": 1,
    "an": 1,
}
_COUNT = rf"\d+(?:\.\d+)?|{'|'.join(k for k in _NUMBER_WORDS if len(k) > 2)}"
_AFTER_DURATION = re.compile(
    rf"\bafter\s+(?:a\s+(?:waiting\s+period\s+of\s+)?)?(?P<n>{_COUNT})\s+(?P<unit>day|week|month|year)s?\b",
    re.IGNORECASE,
)
_DURATION = re.compile(
    rf"(?<![/\d])\b(?P<n>{_COUNT})[\s-](?P<unit>day|week|month|year)s?\b", re.IGNORECASE
)
_HOURS = re.compile(
    rf"\b(?P<n>{_COUNT})\s*(?:hours?|hrs?|h)\b(?=[^.;]{{0,30}}\b(?:week|wk)\b)", re.IGNORECASE
)
_PERCENT = re.compile(r"\b(?P<n>\d+(?:\.\d+)?)\s?(?:%|per ?cent\b)", re.IGNORECASE)
# Access to a scheme or right with no waiting period, or none at all (RELIABILITY of the
# premise check depends on these: "from day one" against "never" is the classic false premise).
_ACCESS_IMMEDIATE = re.compile(
    r"\b(?:from (?:day one|the first day|arrival|the day (?:you|they) arrive)|on arrival|upon arrival"
    r"|as soon as (?:you|they|I|students?) (?:arrive|land|get there|enrol)|immediately|right away"
    r"|straight away|from the start)\b",
    re.IGNORECASE,
)
_ACCESS_NEVER = re.compile(
    r"\b(?:never|at no point|not (?:eligible|open|entitled)\b[^.;]{0,80}?\bat any (?:point|time)"
    r"|(?:is|are) not open to international students|cannot (?:join|enrol in|access)"
    r"|can't (?:join|enrol in|access)|(?:is|are) not eligible for\b)",
    re.IGNORECASE,
)
_SCORE = re.compile(
    r"(?<![\w.,/-])(?P<n>\d{1,2}\.\d{1,2}|\d{2,4}|\d{1,3}(?:,\d{3})+|\d)(?![\w%/-]|[.,]\d)"
)
_ACRONYM = re.compile(r"\b(?:[A-Z]{2,6}|GPA)\b")
_CLAUSE_END = re.compile(r"[.;!?](?!\d)|\n|,\s+or\b|\bor\s+(?:a|an|the)\b|\bbut\b")
_SCALE_BEFORE = re.compile(r"\b(?:out of|on a|of a)\s*$", re.IGNORECASE)
_SCALE_AFTER = re.compile(r"^\s*(?:-?point\s+)?scale\b|^\s*/\s*\d", re.IGNORECASE)


@dataclass(frozen=True)
class Value:
    """One value found in text; `key` is what comparisons use."""

    kind: str  # money | date | duration | hours | percent | score | access
    key: tuple[object, ...]
    text: str
    start: int
    end: int

    @property
    def label(self) -> object:
        """The unit, currency or scale a value is measured in (first element of the key)."""
        return self.key[0]


def parse_amount(text: str) -> float:
    """'12,400' / '12 400' / '12400.50' -> float."""
    return float(re.sub(r"[,\u202f ]", "", text))


def _count(text: str) -> float:
    lowered = text.lower()
    return float(_NUMBER_WORDS[lowered]) if lowered in _NUMBER_WORDS else float(text)


def _overlaps(start: int, end: int, taken: list[tuple[int, int]]) -> bool:
    return any(start < t_end and t_start < end for t_start, t_end in taken)


def _money(text: str, taken: list[tuple[int, int]], currencies: Currencies) -> list[Value]:
    found = []
    for match in _money_pattern(currencies).finditer(text):
        currency = match.group("cur1") or match.group("cur2")
        amount = match.group("amt1") or match.group("amt2")
        scale = 1000.0 if (match.group("k1") or match.group("k2")) else 1.0
        code = CURRENCY_WORDS.get(currency.lower()) or currencies.names.get(
            currency.lower(), currency.upper()
        )
        found.append(
            Value(
                "money",
                (code, parse_amount(amount) * scale),
                match.group(0),
                match.start(),
                match.end(),
            )
        )
        taken.append((match.start(), match.end()))
    return found


def _dates(text: str, taken: list[tuple[int, int]]) -> list[Value]:
    found = []
    for match in _DATE.finditer(text):
        groups = match.groupdict()
        try:
            if groups["y3"]:
                year, month, day = int(groups["y3"]), int(groups["m3"]), int(groups["d3"])
            else:
                day = int(groups["d1"] or groups["d2"])
                month = MONTHS[(groups["m1"] or groups["m2"]).lower().rstrip(".")]
                year_text = groups["y1"] or groups["y2"]
                year = int(year_text) if year_text else 0
            date(year or 2000, month, day)  # refuses 31 February
        except (ValueError, KeyError):
            continue
        # "may" is also a verb: "students may 20 ..." must not become a date.
        if (groups["m2"] or "").lower() == "may" and not (groups["y2"]):
            continue
        found.append(
            Value("date", ("date", year, month, day), match.group(0), match.start(), match.end())
        )
        taken.append((match.start(), match.end()))
    return found


def _access(text: str, taken: list[tuple[int, int]]) -> list[Value]:
    found = []
    for match in _AFTER_DURATION.finditer(text):
        days = _count(match.group("n")) * UNIT_DAYS[match.group("unit").lower()]
        found.append(Value("access", ("days", days), match.group(0), match.start(), match.end()))
        taken.append((match.start(), match.end()))
    for pattern, days in ((_ACCESS_IMMEDIATE, 0.0), (_ACCESS_NEVER, NEVER)):
        for match in pattern.finditer(text):
            if not _overlaps(match.start(), match.end(), taken):
                found.append(
                    Value("access", ("days", days), match.group(0), match.start(), match.end())
                )
                taken.append((match.start(), match.end()))
    return found


def _simple(
    text: str, taken: list[tuple[int, int]], pattern: re.Pattern[str], kind: str
) -> list[Value]:
    found = []
    for match in pattern.finditer(text):
        if _overlaps(match.start(), match.end(), taken):
            continue
        number = _count(match.group("n"))
        if kind == "duration":
            key: tuple[object, ...] = ("days", number * UNIT_DAYS[match.group("unit").lower()])
        else:
            key = (kind, number)
        found.append(Value(kind, key, match.group(0), match.start(), match.end()))
        taken.append((match.start(), match.end()))
    return found


def _scores(
    text: str, taken: list[tuple[int, int]], tests: dict[str, str] | None = None
) -> list[Value]:
    """Bare numbers that are thresholds or counts: labelled by the nearest acronym (LEXT, GPA)
    before them in the same clause, so 'LEXT 6.5' never compares with 'ACAT 1150'."""
    found = []
    for match in _SCORE.finditer(text):
        if _overlaps(match.start(), match.end(), taken):
            continue
        number = parse_amount(match.group("n"))
        if 1900 <= number <= 2100 and "." not in match.group("n"):
            continue  # a year ("the 2026 intake") is not a check-worthy figure on its own
        if _SCALE_AFTER.match(text[match.end() :]) or _SCALE_BEFORE.search(text[: match.start()]):
            continue  # "on a 4.0 scale", "out of 4.0" describe the scale, not a requirement
        label = _score_label(text, match.start(), match.end(), taken, tests or {})
        found.append(Value("score", (label, number), match.group(0), match.start(), match.end()))
        taken.append((match.start(), match.end()))
    return found


# A test or scale named in words: "a LinguaPass Academic score of 85", "a Borealis English
# Test score of 7.0", "a grade point average of 3.2" (= GPA, the one expansion every
# admissions text uses; others come from the corpus's own "Long Name (ACR)" declarations).
_NAMED_TEST = re.compile(
    r"\b(?P<name>(?:[A-Z][\w-]*\s+){0,3}[A-Z][\w-]*)\s+(?=(?:score|total|overall|result|"
    r"band|grade)s?\b)"
    r"|\b(?P<gpa>grade point average)\b",
)
_ON_TEST = re.compile(r"\s+(?:on|in)\s+(?:the\s+)?(?P<test>[A-Z]{2,6})\b")
_GENERIC_OPENERS = frozenset({"A", "An", "The", "Your", "Minimum", "Overall", "Total", "Each"})


def _label_candidates(
    text: str, begin: int, end: int, taken: list[tuple[int, int]], tests: dict[str, str]
) -> list[tuple[int, str]]:
    """(position, label) of each test named between `begin` and `end`."""
    found = [
        (m.start(), m.group(0).upper())
        for m in _ACRONYM.finditer(text, begin, end)
        if not _overlaps(m.start(), m.end(), taken)  # "TVP 1,350": a currency, not a test
    ]
    for m in _NAMED_TEST.finditer(text, begin, end):
        if m.group("gpa"):
            found.append((m.start(), "GPA"))
            continue
        words = m.group("name").split()
        while words and words[0] in _GENERIC_OPENERS:
            words = words[1:]
        if not words or all(w.isupper() for w in words):
            continue  # an acronym alone is read above
        name = " ".join(words)
        found.append((m.start("name"), tests.get(name.lower(), name.upper())))
    return sorted(found)


def _score_label(
    text: str, start: int, end: int, taken: list[tuple[int, int]], tests: dict[str, str]
) -> str | None:
    """The test a bare number belongs to: the nearest test named before it in its clause ('ALT
    6.5 with every band at 6.0, or a GAEE total of 88': 6.0 is ALT's, 88 is GAEE's), else one
    just after it with no number in between ('a 3.4 GPA'). A decimal point does not end a
    clause; an alternative ('or a ...') does."""
    # "6.5 on the GEA or 185 on the AEC": a test named right after its score, with "on"/"in",
    # is that score's, whatever was named before.
    on_test = _ON_TEST.match(text, end)
    if on_test and not _overlaps(on_test.start("test"), on_test.end("test"), taken):
        return tests.get(on_test.group("test").lower(), on_test.group("test").upper())
    clause_start = max((m.end() for m in _CLAUSE_END.finditer(text, 0, start)), default=0)
    before = _label_candidates(text, clause_start, start, taken, tests)
    if before:
        return before[-1][1]
    after = _label_candidates(text, end, min(len(text), end + 25), taken, tests)
    if after and not re.search(r"\d", text[end : after[0][0]]):
        return after[0][1]
    return None


def extract_values(text: str, currencies: Currencies = NONE) -> list[Value]:
    """Every value in `text`, in reading order; each character belongs to at most one value.
    `currencies` are those the corpus uses beyond the built-in ones."""
    taken: list[tuple[int, int]] = []
    values = _money(text, taken, currencies) + _dates(text, taken) + _access(text, taken)
    values += _simple(text, taken, _HOURS, "hours")
    values += _simple(text, taken, _DURATION, "duration")
    values += _simple(text, taken, _PERCENT, "percent")
    values += _scores(text, taken, currencies.tests)
    return sorted(values, key=lambda v: v.start)


def comparable(a: Value, b: Value) -> bool:
    """Whether two values measure the same kind of thing (so disagreement means something)."""
    if a.kind != b.kind:
        return False
    if a.kind == "score":
        return a.label is not None and a.label == b.label
    if a.kind == "money":
        # Amounts in different currencies need an exchange rate to compare; a GBP figure
        # neither supports nor contradicts a USD one.
        return a.label == b.label
    return True


def same_value(a: Value, b: Value) -> bool:
    """Whether two comparable values agree (durations within 3 %, dates ignoring a missing year)."""
    if a.kind != b.kind:
        return False
    if a.kind == "date":
        _, ya, ma, da = a.key
        _, yb, mb, db = b.key
        return (ma, da) == (mb, db) and (ya == yb or 0 in (ya, yb))
    if a.kind in ("duration", "access"):
        x, y = float(a.key[1]), float(b.key[1])  # type: ignore[arg-type]
        if math.isinf(x) or math.isinf(y):
            return x == y
        return abs(x - y) <= 0.03 * max(x, y, 1.0)
    if a.kind == "money":
        return a.key[0] == b.key[0] and math.isclose(float(a.key[1]), float(b.key[1]))  # type: ignore[arg-type]
    return a.key == b.key or (
        a.key[0] == b.key[0] and math.isclose(float(a.key[1]), float(b.key[1]))  # type: ignore[arg-type]
    )
