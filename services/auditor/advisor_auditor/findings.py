"""What an audit produces: per-claim findings with verdict, evidence and confidence.

Invariant (issue 5): a finding without evidence is never "contradicted" — `Check` refuses it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, model_validator


class Verdict(StrEnum):
    SUPPORTED = "supported"
    CONTRADICTED = "contradicted"
    UNVERIFIABLE = "unverifiable"


ERROR_CLASSES = ("number", "date", "entity", "fabricated_program", "false_premise")


class Evidence(BaseModel):
    """A quote from a source document and where it is: path and character span."""

    doc_path: str
    start: int
    end: int
    quote: str
    title: str = ""
    score: float = 0.0


class Check(BaseModel):
    """One test of one claim: a value, a name, an eligibility or availability rule."""

    kind: str  # value | entity | fabricated | availability | eligibility | llm
    verdict: Verdict
    claimed: str
    expected: str | None = None
    error_class: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    confidence: float = 0.0
    reason: str = ""

    @model_validator(mode="after")
    def _contradiction_needs_evidence(self) -> Check:
        if self.verdict is Verdict.CONTRADICTED and not self.evidence:
            raise ValueError("a contradicted check must cite evidence")
        return self


class Finding(BaseModel):
    """The audit of one claim in one message."""

    item_id: str
    turn: int
    claim_id: str
    claim: str
    start: int
    end: int
    role: str = "answer"
    verdict: Verdict
    error_class: str | None = None
    hedged: bool = False
    confident_error: bool = False
    confidence: float = 0.0
    evidence: list[Evidence] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    topic: str | None = None
    model: str | None = None

    @model_validator(mode="after")
    def _contradiction_needs_evidence(self) -> Finding:
        if self.verdict is Verdict.CONTRADICTED and not self.evidence:
            raise ValueError("a contradicted finding must cite evidence")
        return self


def combine(checks: list[Check]) -> tuple[Verdict, Check | None]:
    """A claim is contradicted if any check is, supported if any check is and none
    contradicts, else unverifiable; returns the deciding check."""
    contradicted = [c for c in checks if c.verdict is Verdict.CONTRADICTED]
    if contradicted:
        return Verdict.CONTRADICTED, max(contradicted, key=lambda c: c.confidence)
    supported = [c for c in checks if c.verdict is Verdict.SUPPORTED]
    if supported:
        return Verdict.SUPPORTED, max(supported, key=lambda c: c.confidence)
    return Verdict.UNVERIFIABLE, (checks[0] if checks else None)
