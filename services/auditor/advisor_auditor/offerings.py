"""Which institution offers a programme: "the MSc Marine Biology is offered by University Y".

A programme is named by a degree ("MSc", "Master of Science in", "MA") and a capitalised field
("Marine Biology"). The sources say where it is taught: the institution whose document names
the field, or the institution a span names beside it (a row of an overview table, a list of an
award's eligible programmes). When the claim pairs the programme with an institution that has
its own document, and the sources name the field only beside other institutions, the claim has
the wrong institution: an entity error, citing the span that names the right one.
"""

from __future__ import annotations

import re
from functools import cached_property

from .check_context import CLAUSE_BREAK, ClaimContext, CorpusView, evidence_of
from .claims import Claim
from .entities import kind_of
from .findings import Check, Verdict

_DEGREE = (
    r"(?:MSc|MA|MEng|MBA|MFA|MPhil|LLM|BSc|BA|BEng|PhD|Master|Bachelor|Doctorate)(?:'s)?"
    r"(?:\s+of\s+(?:Science|Arts|Engineering|Laws|Philosophy))?(?:\s+degree)?"
)
_PROGRAMME = re.compile(
    rf"\b{_DEGREE}\s+(?:(?:in|of)\s+)?(?P<field>[A-Z][\w-]*(?:\s+(?:and\s+)?[A-Z][\w-]*)*)"
)
_NEGATED = re.compile(r"\b(?:not|no|never|nor)\b|n't\b", re.IGNORECASE)


class _Fields:
    """Where the corpus names each programme field: span -> institutions it is attributed to."""

    def __init__(self, verifier: CorpusView):
        self.verifier = verifier
        self._cache: dict[str, list[tuple[int, set[str]]]] = {}

    @cached_property
    def institutions(self) -> set[str]:
        """Institutions that documents are about (a title names them)."""
        gazetteer = self.verifier.gazetteer
        titles = {span.title.lower() for span in self.verifier.index.spans}
        return {
            n
            for n in gazetteer.spans_by_name
            if kind_of(n) == "institution"
            and gazetteer.is_name(n)
            and (gazetteer.is_subject(n) or any(n in title for title in titles))
        }

    def _of_span(self, i: int) -> set[str]:
        span = self.verifier.index.spans[i]
        title = span.title.lower()
        named = {n for n in self.verifier.index.span_names[i] if n in self.institutions}
        return named or {n for n in self.institutions if n in title}

    def naming(self, field: str) -> list[tuple[int, set[str]]]:
        if field not in self._cache:
            pattern = re.compile(rf"\b{re.escape(field)}\b", re.IGNORECASE)
            self._cache[field] = [
                (i, self._of_span(i))
                for i, span in enumerate(self.verifier.index.spans)
                if pattern.search(span.match_text)
            ]
        return self._cache[field]


def _fields(verifier: CorpusView) -> _Fields:
    cache = verifier.__dict__.setdefault("_programme_fields", _Fields(verifier))
    assert isinstance(cache, _Fields)
    return cache


def _clause(text: str, start: int, end: int) -> tuple[int, int]:
    breaks = [0, *(m.end() for m in CLAUSE_BREAK.finditer(text)), len(text)]
    return max(b for b in breaks if b <= start), min(b for b in breaks if b >= end)


def check_offering(verifier: CorpusView, claim: Claim, context: ClaimContext) -> Check | None:
    """A programme paired with an institution in one clause, against where the sources name
    the programme's field."""
    fields = _fields(verifier)
    for match in _PROGRAMME.finditer(claim.text):
        field = match.group("field")
        left, right = _clause(claim.text, match.start(), match.end())
        if _NEGATED.search(claim.text[left:right]):
            continue  # "X does not offer an MSc in ..." is the availability rule's
        claimed = {
            m.name
            for m in claim.mentions
            if m.known and left <= m.start and m.end <= right and m.name in fields.institutions
        }
        if not claimed:
            continue
        naming = fields.naming(field)
        if any(institutions & claimed for _, institutions in naming):
            continue
        elsewhere = [(i, institutions - claimed) for i, institutions in naming if institutions]
        if not elsewhere:
            continue
        span, others = elsewhere[0]
        names = sorted(verifier.gazetteer.display.get(n, n) for n in others)
        return Check(
            kind="offering",
            verdict=Verdict.CONTRADICTED,
            claimed=claim.text[match.start() : right].strip(),
            expected=f"{field} at {', '.join(names)}",
            error_class="entity",
            evidence=[evidence_of(verifier.index, span, 1.0)],
            confidence=0.8,
            reason=f"the sources name {field} only at {', '.join(names)}",
        )
    return None
