"""What a question takes for granted, checked against the sources, and whether the answer goes
along with it.

A question often carries a statement ("StudyFjell gives a two-week grace period, so I can upload
the certificate then, correct?"), and a wrong one is a *false premise*. The answer that builds
on it ("Yes, uploading it within the grace period will be fine.") may restate nothing checkable,
so comparing the answer's own values finds nothing. Two steps:

1. `as_statement` keeps the question's statements: declarative sentences and tag questions
   ("..., right?"), not open questions ("What does it cost?").
2. `check_denial` finds a source span about the premise's subject that *denies* it: a negated
   clause ("There is no grace period", "no fee waivers are granted", "Bachelor students are not
   eligible") sharing at least two attribute words with an affirmative premise.

`answer_sentence_building_on` then picks the answer sentence that accepts the premise (an
opening "Yes", "That's right", or the sentence sharing most of its words) unless the answer
pushes back ("No", "Unfortunately", "not").
"""

from __future__ import annotations

import re

import numpy as np

from .check_context import ClaimContext, CorpusView, evidence_of
from .claims import Claim
from .corpus import split_sentences, strip_markdown
from .findings import Check, Verdict
from .retrieval import content_words

# A tag question asserts its statement: "Coralhaven waives the fee before Christmas, right?"
_TAG_QUESTION = re.compile(
    r",?\s*(?:right|correct|true|isn't it|is that right|is that correct|yes)\s*\?\s*$",
    re.IGNORECASE,
)
_GIVEN = re.compile(
    r"^\s*(?:since|as|because|given that|now that)\s+(?P<clause>[^,?]+),", re.IGNORECASE
)
# "does not offer engineering programmes" denies any engineering programme at that place.
_NOT_OFFERED = re.compile(r"\b(?:not|no longer|never)\s+offer", re.IGNORECASE)
_NEGATION = re.compile(
    r"\b(?:no|not|never|cannot|none|neither|nor|without)\b|n't\b|\bno longer\b", re.IGNORECASE
)
# Opening words of an answer that accepts what it was told.
_AFFIRMS = re.compile(
    r"^\s*(?:yes|yeah|yep|sure|certainly|of course|absolutely|correct|exactly|indeed|"
    r"that's (?:right|correct|true)|that is (?:right|correct|true)|good news|great|you can certainly"
    r"|you're right|you are right)\b",
    re.IGNORECASE,
)
# Words with which an answer corrects the asker.
_PUSHES_BACK = re.compile(
    r"\b(?:no|not|unfortunately|actually|however|although|but|cannot|isn't|aren't|doesn't|don't|"
    r"won't|only|instead|rather|mistaken|incorrect|wrong)\b|n't\b",
    re.IGNORECASE,
)
_VERBAL = re.compile(r"not|never|cannot|n't", re.IGNORECASE)
_CLAUSE = re.compile(r"[.;:!?](?!\d)|,\s+(?:but|and|so|while|whereas)\b|\s[\u2014\u2013]\s")
MIN_SHARED = 2  # attribute words a denial must share with a premise
MIN_DENIAL_SIMILARITY = 0.35  # MiniLM cosine of premise and denying span
CLOSE_SIMILARITY = 0.5  # a denial sharing words only with its subject must read this alike


def _root(word: str) -> str:
    """A crude root, so that 'waives', 'waived' and 'waivers' meet."""
    for suffix in ("ers", "ing", "ed", "es", "er", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def as_statement(sentence: str) -> str | None:
    """What a question's sentence asserts: a declarative sentence as it is, a tag question
    without its tag, the reason a question gives ("Since X, what ...?" asserts X); None for an
    open question ("What does it cost?")."""
    tag = _TAG_QUESTION.search(sentence)
    if tag:
        return sentence[: tag.start()].strip() or None
    if not sentence.rstrip().endswith("?"):
        return sentence.strip() or None
    reason = _GIVEN.match(sentence)
    return reason.group("clause").strip() if reason else None


def sentences(content: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of each sentence of a message, markdown removed."""
    found, offset = [], 0
    for line in content.split("\n"):
        for start, end, sentence in split_sentences(line, offset):
            text = strip_markdown(sentence)
            if text:
                found.append((start, end, text))
        offset += len(line) + 1
    return found


def _roots(text: str, verifier: CorpusView, drop: set[str]) -> set[str]:
    words = content_words(text, verifier.index.currencies) - drop
    return {_root(w) for w in words if len(w) > 2}


def _negated_clauses(verifier: CorpusView, span: int) -> list[tuple[str, set[str]]]:
    """The negated clauses of a span with their word roots (cached per span)."""
    cache = verifier.denial_cache
    if span not in cache:
        cache[span] = [
            (clause, _roots(clause, verifier, set()))
            for clause in _CLAUSE.split(verifier.index.spans[span].match_text)
            if clause and _NEGATION.search(clause)
        ]
    return cache[span]


def check_denial(
    verifier: CorpusView, claim: Claim, context: ClaimContext, vector: np.ndarray
) -> Check | None:
    """An affirmative premise that a negated clause of a span about its subject denies."""
    statement = as_statement(claim.text)
    if claim.role != "premise" or statement is None or _NEGATION.search(statement):
        return None
    levels = verifier.anchor_levels(claim, context)
    subjects = next((level for level in levels[:4] if level), [])
    if not subjects:
        # "Coralhaven waives the fee": a short name of what a document is about.
        gazetteer = verifier.gazetteer
        resolved = (gazetteer.resolve(m.text) for m in claim.mentions if m.known)
        subjects = sorted({n for n in resolved if n and gazetteer.is_subject(n)})
    if not subjects:
        return None
    # The subject's own words say nothing about what is denied of it.
    names = {w for m in claim.mentions if m.name in subjects for w in m.text.lower().split()} | {
        w for n in subjects for w in n.split()
    }
    premise = _roots(statement, verifier, names)
    # Words of the names the premise mentions that are not subjects ("Civil Engineering").
    program_words = {
        _root(w)
        for m in claim.mentions
        if m.known and m.name not in subjects and len(m.text.split()) > 1
        for w in m.text.lower().split()
    }
    best: tuple[float, int, set[str]] | None = None
    spans = verifier.spans_about(subjects)
    if not spans:
        return None
    similarity = verifier.index.similarity(vector, spans)
    for k, i in enumerate(spans):
        for clause, roots in _negated_clauses(verifier, i):
            shared = premise & (roots - {_root(w) for w in names})
            # An explicit "does not offer" of a named programme's field needs no more; other
            # denials must share two words and read alike.
            not_offered = bool(shared & program_words) and bool(_NOT_OFFERED.search(clause))
            # The denied thing must be the premise's: two of its words after the negation
            # ("there is no grace period", "no fee waivers"), or, when a verb is negated, two
            # before it in a span that reads much like the premise ("Bachelor students cannot
            # sponsor family members"). "No" denies only the noun it precedes.
            cue = _NEGATION.search(clause)
            assert cue is not None
            denied = shared & _roots(clause[cue.end() :], verifier, set())
            enough = not_offered or (
                similarity[k] >= MIN_DENIAL_SIMILARITY
                and (
                    len(denied) >= MIN_SHARED
                    or (
                        _VERBAL.match(cue.group(0))
                        and len(shared) >= MIN_SHARED
                        and similarity[k] >= CLOSE_SIMILARITY
                    )
                )
            )
            if enough and (best is None or similarity[k] > best[0]):
                best = (float(similarity[k]), i, shared)
    if best is None:
        return None
    score, span, shared = best
    return Check(
        kind="premise",
        verdict=Verdict.CONTRADICTED,
        claimed=claim.text,
        expected=verifier.index.spans[span].match_text,
        error_class="false_premise",
        evidence=[evidence_of(verifier.index, span, score)],
        confidence=round(min(0.9, 0.4 + score / 2), 3),
        reason=f"the source denies what the question takes for granted ({', '.join(sorted(shared))})",
    )


def answer_sentence_building_on(
    answer_sentences: list[tuple[int, int, str]], premise: str
) -> tuple[int, int, str] | None:
    """The answer sentence that accepts `premise`, or None when the answer pushes back."""
    if not answer_sentences:
        return None
    first = answer_sentences[0]
    premise_words = {_root(w) for w in content_words(premise) if len(w) > 2}
    if _AFFIRMS.match(first[2]):
        chosen = first
    else:
        scored = [
            (len(premise_words & {_root(w) for w in content_words(s[2])}), -n, s)
            for n, s in enumerate(answer_sentences[:3])
        ]
        shared, _, chosen = max(scored)
        if shared < MIN_SHARED:
            return None
    if _PUSHES_BACK.search(chosen[2]) or _PUSHES_BACK.search(first[2]):
        return None
    return chosen
