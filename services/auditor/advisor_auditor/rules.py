"""Rule checks: is a program offered, and who may apply for a scholarship.

Both compare a claim with closed lists the sources state ("Master: Data Science, Public Health";
"Eligibility is limited to citizens of A, B or C") and with explicit denials ("does not offer a
Master in Veterinary Medicine"). They are what catches an accepted false premise: a question
that presumes a program or an eligibility the sources deny, and an answer that goes along.
"""

from __future__ import annotations

import re
from functools import cached_property

from .check_context import ClaimContext, CorpusView, evidence_of
from .claims import Claim
from .entities import kind_of
from .findings import Check, Verdict

DEGREE_LEVELS = ("bachelor", "master", "phd", "doctorate")
_PROGRAM = re.compile(
    r"\b(?P<level>Bachelor|Master|PhD|Doctorate)(?:'s)?(?:\s+degree)?\s+(?:in|of)\s+"
    r"(?P<subject>[A-Z][\w-]*(?:\s+(?:and\s+)?[A-Z][\w-]*)*)"
)
_PROGRAM_LIST = re.compile(
    r"^\s*(?P<level>Bachelor|Master|PhD|Doctorate)\s*:\s*(?P<items>.+)$", re.I
)
_NEGATION = re.compile(
    r"\b(?:not|no longer|never|cannot|isn't|aren't|doesn't|don't|won't|excluded|ineligible)\b|n't\b",
    re.IGNORECASE,
)
_NO = re.compile(r"\b(?:there is|there are|has|offers?) no\b", re.IGNORECASE)
_ELIGIBILITY_WORDS = re.compile(
    r"\b(?:eligib\w*|qualif\w*|can apply|may apply|citizens?|nationals?|nationalit\w*|covered|"
    r"open to|can get)\b",
    re.IGNORECASE,
)
_EXHAUSTIVE = re.compile(
    r"\b(?:limited to|only|restricted to|exclusively|must be|not considered|no other|other "
    r"(?:countries|nationalities)[^.]*\bnot)\b",
    re.IGNORECASE,
)
_LISTED = re.compile(
    r"\b(?:only|limited to|restricted to)\s+(?:citizens|nationals|students|applicants)\s+(?:of|from)\s+"
    r"(?P<list>[^.;]+?)(?=\s+(?:can|may|are|is)\b|[.;]|,\s*so\b|$)",
    re.IGNORECASE,
)

_EXCLUDING = re.compile(
    r"\b(?:outside|except|other than|apart from|excluding|not from)\b", re.IGNORECASE
)
_WHERE = re.compile(r"\b(?:in|at|to|within|across|inside|near)\s+(?:the\s+)?$", re.IGNORECASE)


def _items(text: str) -> list[str]:
    parts = re.split(r",\s*|\s+and\s+|\s+or\s+", text.strip().rstrip("."))
    return [p.strip().lower() for p in parts if p.strip()]


def _subject_names(
    verifier: CorpusView, claim: Claim, context: ClaimContext, kind: str
) -> list[str]:
    for group in (claim.mentions, context.heading, context.question):
        names = [m.name for m in group if m.known and m.kind == kind]
        if names:
            return names
    return []


def _spans_of(verifier: CorpusView, names: list[str]) -> list[int]:
    wanted = set(names)
    return [
        i
        for i, span in enumerate(verifier.index.spans)
        if verifier.index.span_names[i] & wanted or any(n in span.title.lower() for n in names)
    ]


def check_availability(verifier: CorpusView, claim: Claim, context: ClaimContext) -> Check | None:
    """'The Master in Data Science at X ...' against X's program lists and denials."""
    match = _PROGRAM.search(claim.text)
    if not match:
        return None
    institutions = _subject_names(verifier, claim, context, "institution")
    if not institutions:
        return None
    level, subject = match.group("level").lower(), match.group("subject").lower()
    program = f"{match.group('level')} in {match.group('subject')}"
    denied = claim_denies = bool(_NEGATION.search(claim.text) or _NO.search(claim.text))
    spans = _spans_of(verifier, institutions)
    for i in spans:
        text = verifier.index.spans[i].match_text.lower()
        if _NEGATION.search(text) and f"{level} in {subject}" in text:
            verdict = Verdict.SUPPORTED if claim_denies else Verdict.CONTRADICTED
            return Check(
                kind="availability",
                verdict=verdict,
                claimed=program,
                expected=f"{institutions[0]} does not offer a {program}",
                error_class=None if claim_denies else "fabricated_program",
                evidence=[evidence_of(verifier.index, i, 1.0)],
                confidence=0.95,
                reason="the source explicitly says the program is not offered",
            )
    for i in spans:
        listed = _PROGRAM_LIST.match(verifier.index.spans[i].match_text)
        if not listed or listed.group("level").lower() != level:
            continue
        if any(not item[:1].isupper() for item in re.split(r",\s*", listed.group("items"))):
            continue  # "Master: recognised bachelor's degree ..." is a requirement, not a list
        offered = subject in _items(listed.group("items"))
        if offered == denied:
            return Check(
                kind="availability",
                verdict=Verdict.CONTRADICTED,
                claimed=program,
                expected=f"{listed.group('level')} programs: {listed.group('items')}",
                error_class="fabricated_program",
                evidence=[evidence_of(verifier.index, i, 1.0)],
                confidence=0.85,
                reason="the source's program list for this level disagrees",
            )
        return Check(
            kind="availability",
            verdict=Verdict.SUPPORTED,
            claimed=program,
            evidence=[evidence_of(verifier.index, i, 1.0)],
            confidence=0.85,
            reason="the source's program list for this level agrees",
        )
    return None


class _Nationalities:
    """Place names the corpus uses in eligibility rules ('citizens of A, B or C')."""

    def __init__(self, verifier: CorpusView):
        self.verifier = verifier

    @cached_property
    def names(self) -> set[str]:
        found: set[str] = set()
        for i, span in enumerate(self.verifier.index.spans):
            if re.search(r"\b(?:citizens|nationals|nationalit\w*)\b", span.match_text, re.I):
                found.update(n for n in self.verifier.index.span_names[i] if n.count(" ") < 3)
        gazetteer = self.verifier.gazetteer
        found.update(
            n for n in gazetteer.title_names if gazetteer.is_anchor(n) and kind_of(n) == "place"
        )
        return {n for n in found if kind_of(n) in ("place", "other")}


def _nationalities(verifier: CorpusView) -> set[str]:
    cache = verifier.__dict__.setdefault("_nationalities", _Nationalities(verifier))
    return cache.names


def check_eligibility(verifier: CorpusView, claim: Claim, context: ClaimContext) -> Check | None:
    """Who may apply, against the scholarship's stated eligibility list."""
    if not _ELIGIBILITY_WORDS.search(claim.text):
        return None
    scholarships = _subject_names(verifier, claim, context, "scholarship")
    if not scholarships:
        return None
    vocabulary = _nationalities(verifier) - set(scholarships)
    rule_span, eligible = None, set()
    spans = verifier.index.spans
    for i in _spans_of(verifier, scholarships[:1]):
        text = spans[i].match_text
        if not re.search(r"\b(?:citizens|nationals)\s+(?:of|from)\b", text, re.I):
            continue
        # "Applicants must be citizens of A or B. Citizens of other countries are not
        # eligible." - the list is closed by its own words or by the next sentence.
        following = spans[i + 1] if i + 1 < len(spans) else None
        closing = (
            following.match_text if following and following.doc_path == spans[i].doc_path else ""
        )
        if _EXCLUDING.search(text):
            # "open only to nationals of countries outside the Accord": the names listed are
            # the excluded ones, not a closed list of the eligible.
            return None
        if _EXHAUSTIVE.search(text) or _EXHAUSTIVE.search(closing):
            rule_span = i
            eligible = verifier.index.span_names[i] & vocabulary
            break
    if rule_span is None or not eligible:
        return None
    evidence = [evidence_of(verifier.index, rule_span, 1.0)]
    expected = ", ".join(sorted(verifier.gazetteer.display.get(n, n) for n in eligible))
    places = [m for m in claim.mentions if m.known and m.name in vocabulary]
    listed = _LISTED.search(claim.text)
    if listed:
        claimed_list = {
            m.name for m in places if listed.start("list") <= m.start < listed.end("list")
        }
        if claimed_list and claimed_list != eligible:
            return Check(
                kind="eligibility",
                verdict=Verdict.CONTRADICTED,
                claimed=listed.group("list"),
                expected=expected,
                error_class="entity",
                evidence=evidence,
                confidence=0.9,
                reason="the claimed list of eligible nationalities differs from the source's",
            )
        places = [m for m in places if m.name not in claimed_list]
    # "public universities in Orlenne" says where, not who: a place after a preposition of
    # location is no nationality.
    places = [p for p in places if not _WHERE.search(claim.text[: p.start])]
    for place in places:
        clause_start = (
            max(claim.text.rfind(sep, 0, place.start) for sep in (",", ";", ":", " so ", " but "))
            + 1
        )
        ends = [claim.text.find(sep, place.end) for sep in (",", ";", " so ", " but ")]
        clause_end = min([e for e in ends if e >= 0], default=len(claim.text))
        clause = claim.text[clause_start:clause_end]
        says_eligible = not _NEGATION.search(clause)
        is_eligible = place.name in eligible
        if says_eligible != is_eligible:
            return Check(
                kind="eligibility",
                verdict=Verdict.CONTRADICTED,
                claimed=place.text,
                expected=f"eligible: {expected}",
                error_class="entity",
                evidence=evidence,
                confidence=0.9,
                reason=f"the source {'excludes' if says_eligible else 'includes'} {place.text}",
            )
    if places or listed:
        return Check(
            kind="eligibility",
            verdict=Verdict.SUPPORTED,
            claimed=claim.text,
            expected=expected,
            evidence=evidence,
            confidence=0.85,
            reason="the eligibility list agrees",
        )
    return None
