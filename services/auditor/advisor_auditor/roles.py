"""Who does what: "administered by X", "evaluated by X", "issued by X".

Sources name the body that performs an act in the passive: "The stipend is funded by the
Ministry and administered by the Exchange Office", "Qualifications are evaluated by the
Recognition Centre". A claim naming another body for the same act ("credential evaluations are
handled by the Exchange Office") has the wrong body when the sources about the claim's subject
name a different one for that act and never this one. The act is the verb before "by" or, when
that verb says nothing of the act ("handled", "done"), the words before it.
"""

from __future__ import annotations

import re
from functools import cached_property

from .check_context import CLAUSE_BREAK, ClaimContext, CorpusView, evidence_of
from .claims import Claim
from .entities import Mention, head_noun, kind_of
from .findings import Check, Verdict
from .retrieval import content_words

_BY = re.compile(r"\b(?P<verb>[A-Za-z]+)\s+by\s+(?:the\s+)?$")
# Verbs that name no act of their own: the act is in the words before them.
_GENERIC = frozenset(
    {"handled", "done", "made", "carried", "taken", "given", "dealt", "covered", "run", "managed"}
)
_SUFFIXES = ("ations", "ation", "ings", "ing", "ions", "ion", "ed", "es", "s", "e")
# A role names a body: an organisation ("Exchange Office", "Council", "Ministry") or another
# body by the head nouns bodies take ("Recognition Centre", "Directorate of Migration").
_BODY_HEADS = frozenset({"centre", "center", "directorate", "bureau", "authority", "registry"})


def is_body(name: str) -> bool:
    return kind_of(name) == "organisation" or head_noun(name) in _BODY_HEADS


def _root(word: str) -> str:
    """A crude root that puts "evaluations", "evaluated" and "evaluating" together."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)][:5]
    return word[:5]


def act_of(text: str, at: int) -> set[str]:
    """The roots of the act that the body named at `at` (just after "by") performs."""
    before = text[:at]
    match = _BY.search(before)
    if not match:
        return set()
    verb = match.group("verb").lower()
    if verb not in _GENERIC:
        return {_root(verb)}
    breaks = [0, *(m.end() for m in CLAUSE_BREAK.finditer(before[: match.start()]))]
    clause = before[max(breaks) : match.start()]
    return {_root(w) for w in content_words(clause) if len(w) > 3}


class _Roles:
    """Each span's (act, body) pairs, read once per corpus."""

    def __init__(self, verifier: CorpusView):
        self.verifier = verifier

    @cached_property
    def pairs(self) -> dict[int, list[tuple[set[str], str]]]:
        found: dict[int, list[tuple[set[str], str]]] = {}
        gazetteer = self.verifier.gazetteer
        for i, span in enumerate(self.verifier.index.spans):
            text = span.match_text
            if " by " not in text:
                continue
            for mention in gazetteer.mentions(text):
                if not mention.known or not is_body(mention.name):
                    continue
                act = act_of(text, mention.start)
                if act:
                    found.setdefault(i, []).append((act, mention.name))
        return found


def _roles(verifier: CorpusView) -> _Roles:
    cache = verifier.__dict__.setdefault("_roles", _Roles(verifier))
    assert isinstance(cache, _Roles)
    return cache


def _subject(verifier: CorpusView, claim: Claim, context: ClaimContext) -> list[str]:
    """The claim's subject: the subjects it names, else the first of its answer, else the
    question's ("It is administered by ..." after "The X Stipend is a good fit"). Awards,
    institutions, permits and schemes come before places: a place qualifies a body
    ("Brevasta's Ministry") more often than it is what the act is done for."""
    gazetteer = verifier.gazetteer
    groups = (claim.mentions, context.answer, context.question)

    def subjects(mentions: list[Mention], places: bool) -> list[str]:
        return [
            m.name
            for m in mentions
            if m.known
            and gazetteer.is_subject(m.name)
            and not is_body(m.name)
            and (kind_of(m.name) == "place") == places
        ]

    for places in (False, True):
        for depth, group in enumerate(groups):
            named = subjects(group, places)
            if named:
                return named if depth == 0 else named[:1]
    return []


def check_role(verifier: CorpusView, claim: Claim, context: ClaimContext) -> Check | None:
    """A body named for an act, against the body the sources about the subject name for it."""
    roles = _roles(verifier)
    for mention in claim.mentions:
        # A body the corpus never names is checked too: the act's body is the one it names.
        if not is_body(mention.name or mention.text):
            continue
        act = act_of(claim.text, mention.start)
        if not act:
            continue
        subject = _subject(verifier, claim, context)
        scope = set(verifier.spans_about(subject)) if subject else set(roles.pairs)
        same_act = [
            (i, body)
            for i, pairs in roles.pairs.items()
            if i in scope
            for span_act, body in pairs
            if span_act & act
        ]
        if not subject and len({body for _, body in same_act}) != 1:
            continue  # with no subject, only an act the whole corpus gives one body decides
        name = mention.name or mention.text.lower()
        if not same_act or any(body == name for _, body in same_act):
            continue
        # "Brevasta's Ministry" for "the Ministry ... of Brevasta": a body holding the claimed
        # name is the claimed body.
        if any(name in body or body in name for _, body in same_act):
            continue
        span, body = same_act[0]
        display = verifier.gazetteer.display.get(body, body)
        return Check(
            kind="role",
            verdict=Verdict.CONTRADICTED,
            claimed=mention.text,
            expected=display,
            error_class="entity",
            evidence=[evidence_of(verifier.index, span, 1.0)],
            confidence=0.8,
            reason=f"the sources name {display} for this, not {mention.text}",
        )
    return None
