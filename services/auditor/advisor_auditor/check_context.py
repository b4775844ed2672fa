"""What every check of a claim shares: the names around the claim, how a span is cited, and the
view of the corpus a rule needs from the verifier.

`verify` runs the checks and the rule modules (`rules`, `premises`) implement some of them; both
sides import this module and neither imports the other's, so the import graph stays acyclic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from .claims import Claim
from .entities import Gazetteer, Mention
from .findings import Evidence
from .retrieval import EvidenceIndex
from .values import Value

# Where one clause of a sentence ends and the next, which may be about another subject,
# begins: a comma not inside a date or number ("December 1, 2026"), a semicolon, a dash, or a
# conjunction that contrasts or draws a consequence.
CLAUSE_BREAK = re.compile(
    r";|,(?!\s*\d)|\s[-\u2013\u2014]\s|\b(?:so|but|while|whereas|although|though)\b",
    re.IGNORECASE,
)


@dataclass
class ClaimContext:
    """Names around a claim, nearest first: its heading, the question, the rest of the answer."""

    heading: list[Mention] = field(default_factory=list)
    question: list[Mention] = field(default_factory=list)
    answer: list[Mention] = field(default_factory=list)
    earlier: list[Mention] = field(default_factory=list)
    # The asker's own figures ("I have a GPA of 3.6", "I'm 26"): facts about the person, which
    # no source states; an answer repeating them ("your GPA of 3.6") is not checked on them.
    personal: list[Value] = field(default_factory=list)


class CorpusView(Protocol):
    """The verifier as a rule sees it: the indexed corpus, its names, and the spans about a
    claim's subject."""

    index: EvidenceIndex
    gazetteer: Gazetteer
    # Negated clauses of each span with their content words, for premise denials.
    denial_cache: dict[int, list[tuple[str, set[str]]]]

    def anchor_levels(
        self, claim: Claim, context: ClaimContext, exclude: set[str] | None = None
    ) -> list[list[str]]: ...

    def spans_about(self, names: list[str]) -> list[int]: ...


def evidence_of(index: EvidenceIndex, span_index: int, score: float) -> Evidence:
    span = index.spans[span_index]
    return Evidence(
        doc_path=span.doc_path,
        start=span.start,
        end=span.end,
        quote=span.text,
        title=span.title,
        score=round(float(score), 4),
    )
