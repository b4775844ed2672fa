"""Lineage: for each confident error in model answers, the training examples that assert the
same claim, ranked - "this error was inherited from these examples" (docs/paper.md §3.5: done by
hand, at the level of error class; here it is per claim).

A training claim is linked when it states the same wrong value or name as the answer's error
(`same_error`), or speaks about the same thing with a different value (`same_claim`). Ranking:
meaning similarity (MiniLM) plus a bonus for the same wrong value, and another when the audit
found the training claim itself contradicted (the error is in the data, not only in the model).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .audit_items import AuditItem
from .claims import Claim, extract_claims
from .conversation_audit import ItemAudit
from .findings import Finding, Verdict
from .retrieval import EvidenceIndex
from .units import Currencies
from .values import comparable, extract_values, same_value

SAME_VALUE_BONUS = 1.0
CONTRADICTED_BONUS = 0.5
MIN_SIMILARITY = 0.5  # below this two claims are not about the same thing


@dataclass(frozen=True)
class LineageLink:
    answer_id: str
    answer_claim: str
    training_id: str
    training_turn: int
    training_claim: str
    relation: str  # same_error | same_claim
    training_claim_contradicted: bool
    score: float


def _claimed_texts(finding: Finding) -> list[str]:
    return [c.claimed for c in finding.checks if c.verdict is Verdict.CONTRADICTED]


def _same_error(finding: Finding, claim: Claim, currencies: Currencies) -> bool:
    for claimed in _claimed_texts(finding):
        values = extract_values(claimed, currencies)
        if values:
            if any(comparable(v, w) and same_value(v, w) for v in values for w in claim.values):
                return True
        elif claimed.lower() in claim.text.lower():
            return True
    return False


def trace_lineage(
    answer_audits: list[ItemAudit],
    training_items: list[AuditItem],
    index: EvidenceIndex,
    training_audits: list[ItemAudit] | None = None,
    top_k: int = 5,
) -> list[LineageLink]:
    """Ranked training claims behind each confident error of the answers."""
    errors = [f for audit in answer_audits for f in audit.confident_errors]
    if not errors or not training_items:
        return []
    contradicted_ids = {
        f.claim_id
        for audit in training_audits or []
        for f in audit.findings
        if f.verdict is Verdict.CONTRADICTED
    }
    claims: list[tuple[str, Claim]] = []
    for item in training_items:
        for turn, (role, content) in enumerate(item.messages):
            if role == "assistant":
                claims.extend(
                    (item.id, c)
                    for c in extract_claims(
                        content,
                        index.gazetteer,
                        turn=turn,
                        id_prefix=item.id,
                        currencies=index.currencies,
                    )
                )
    if not claims:
        return []
    training_vectors = index.embed([c.text for _, c in claims])
    error_vectors = index.embed([f.claim for f in errors])
    links: list[LineageLink] = []
    for finding, vector in zip(errors, error_vectors, strict=True):
        similarity = training_vectors @ vector
        scored = []
        for (item_id, claim), sim in zip(claims, similarity, strict=True):
            same = _same_error(finding, claim, index.currencies)
            if not same and sim < MIN_SIMILARITY:
                continue
            contradicted = claim.id in contradicted_ids
            score = float(sim) + SAME_VALUE_BONUS * same + CONTRADICTED_BONUS * contradicted
            scored.append((score, item_id, claim, same, contradicted))
        scored.sort(key=lambda s: -s[0])
        links.extend(
            LineageLink(
                answer_id=finding.item_id,
                answer_claim=finding.claim,
                training_id=item_id,
                training_turn=claim.turn,
                training_claim=claim.text,
                relation="same_error" if same else "same_claim",
                training_claim_contradicted=contradicted,
                score=round(score, 4),
            )
            for score, item_id, claim, same, contradicted in scored[:top_k]
        )
    return links


def lineage_records(links: list[LineageLink]) -> list[dict[str, object]]:
    return [asdict(link) for link in links]
