"""Per-sample results of an evaluation, for `GET /v1/evaluations/{id}/samples`: each prompt with
every candidate's answer, its reference scores, the judge's verdict in both orders with margins,
and the auditor's contradicted claims with their evidence.

Read from the stored unit results (whatever is stored so far, so a running job shows its
progress) and from the auditor's findings file of each candidate's factuality audit (the store
key the auditor returned with the finished audit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from advisor_shared.errors import AdvisorError

from ..jobs.pipeline import SCORE_CHUNK, chunk_name
from ..jobs.results import JobResults, factuality_key, generation_key, judgement_key, score_key
from ..judging.pairwise import ORDERS, Order, combine_orders, deblind
from ..judging.parsing import SlotScores, Verdict

Side = Literal["challenger", "baseline", "tie"]


class SampleEvidence(BaseModel):
    doc_path: str
    start: int
    end: int
    quote: str
    title: str = ""


class SampleFinding(BaseModel):
    """A contradicted claim of an answer (`start`/`end` index the answer's text), with the
    source span that contradicts it."""

    claim: str
    start: int | None = None
    end: int | None = None
    error_class: str | None = None
    confident_error: bool = False
    hedged: bool = False
    reason: str = ""
    evidence: list[SampleEvidence] = Field(default_factory=list)


class SampleAudit(BaseModel):
    audit_id: str | None = None
    claims: int = 0
    contradicted: list[SampleFinding] = Field(default_factory=list)

    @property
    def confident_error(self) -> bool:
        return any(f.confident_error for f in self.contradicted)


class OrderVerdict(BaseModel):
    """One order's verdict: the slot the judge preferred, who that was, and how firmly."""

    order: Order
    preference: str | None  # "A", "B", "tie" or None (unparseable)
    prefers: Side | None
    margin: float | None = None  # the verdict's lead, 0 … 1 (logprob verdicts only)
    method: str | None = None


class PairJudgement(BaseModel):
    """The challenger against the baseline on this prompt, in both orders."""

    orders: list[OrderVerdict]
    result: Literal["win", "loss", "tie", "unparseable"] | None = None  # None: not both orders
    consistent: bool | None = None


class SampleAnswer(BaseModel):
    candidate: str
    role: Literal["baseline", "challenger"]
    text: str | None = None  # None: not generated yet
    finish_reason: str | None = None
    truncated: bool = False
    bertscore_f1: float | None = None
    rouge_l: float | None = None
    judgement: PairJudgement | None = None  # challengers only
    audit: SampleAudit | None = None  # when factuality ran


class SampleRow(BaseModel):
    key: str
    id: str
    topic: str | None = None
    prompt: str
    reference: str | None = None
    answers: list[SampleAnswer]
    disagreement: bool = False
    confident_error: bool = False


class SamplePage(BaseModel):
    object: str = "list"
    data: list[SampleRow]
    next_cursor: str | None = None
    has_more: bool = False
    total: int = Field(description="prompts matching the filters")
    candidates: list[dict[str, str]]
    topics: list[str]


@dataclass(frozen=True)
class SampleFilter:
    topic: str | None = None
    disagreement: bool = False
    confident_error: bool = False

    def keeps(self, row: SampleRow) -> bool:
        return (
            (self.topic is None or row.topic == self.topic)
            and (not self.disagreement or row.disagreement)
            and (not self.confident_error or row.confident_error)
        )


def _order_verdict(record: dict[str, Any] | None, order: Order) -> OrderVerdict:
    if record is None:
        return OrderVerdict(order=order, preference=None, prefers=None)
    preference = record["verdict"]["preference"]
    reading = deblind(Verdict(preference, SlotScores(None, None), SlotScores(None, None)), order)
    prefers: Side | None = {"win": "challenger", "loss": "baseline", "tie": "tie", None: None}[
        reading.outcome
    ]
    margin = (record.get("logprobs") or {}).get("margin")
    return OrderVerdict(
        order=order,
        preference=preference,
        prefers=prefers,
        margin=margin,
        method=record.get("method"),
    )


def _judgement(results: JobResults, candidate: str, item: str) -> PairJudgement | None:
    records = {o: results.get_or_none(judgement_key(candidate, item, o)) for o in ORDERS}
    if all(r is None for r in records.values()):
        return None
    orders = [_order_verdict(records[o], o) for o in ORDERS]
    present = {o: r for o, r in records.items() if r is not None}
    if len(present) < len(ORDERS):
        return PairJudgement(orders=orders)
    readings = [
        deblind(
            Verdict(
                present[o]["verdict"]["preference"],
                SlotScores(None, None),
                SlotScores(None, None),
            ),
            o,
        )
        for o in ORDERS
    ]
    pair = combine_orders(readings[0], readings[1])
    return PairJudgement(orders=orders, result=pair.result, consistent=pair.consistent)


def _findings_by_item(results: JobResults, candidate: str) -> tuple[str | None, dict[str, Any]]:
    """(audit id, {item id: (claims, [contradicted findings])}) of a candidate's audit."""
    outcome = results.get_or_none(factuality_key(candidate))
    if outcome is None:
        return None, {}
    links = outcome.get("links") or {}
    key = links.get("answers-findings.jsonl")
    by_item: dict[str, list[dict[str, Any]]] = {}
    if isinstance(key, str):
        try:
            text = results.store.get_bytes(key).decode("utf-8")
        except AdvisorError:
            text = ""
        for line in text.splitlines():
            if line.strip():
                finding = json.loads(line)
                by_item.setdefault(str(finding.get("item_id")), []).append(finding)
    return outcome.get("audit_id"), by_item


def _audit(audit_id: str | None, findings: list[dict[str, Any]]) -> SampleAudit:
    contradicted = []
    for finding in findings:
        if finding.get("verdict") != "contradicted":
            continue
        check: dict[str, Any] = next(
            (c for c in finding.get("checks", []) if c.get("verdict") == "contradicted"), {}
        )
        contradicted.append(
            SampleFinding(
                claim=finding.get("claim", ""),
                start=finding.get("start"),
                end=finding.get("end"),
                error_class=finding.get("error_class"),
                confident_error=bool(finding.get("confident_error")),
                hedged=bool(finding.get("hedged")),
                reason=check.get("reason", ""),
                evidence=[SampleEvidence.model_validate(e) for e in finding.get("evidence", [])],
            )
        )
    return SampleAudit(audit_id=audit_id, claims=len(findings), contradicted=contradicted)


def _signals_disagree(answer: SampleAnswer, baseline: SampleAnswer) -> bool:
    """The judge contradicts itself across the two orders, or its verdict and BERTScore point
    different ways (the challenger closer to the reference but judged worse, or the reverse)."""
    judgement = answer.judgement
    if judgement is None or judgement.result is None:
        return False
    if judgement.consistent is False:
        return True
    if answer.bertscore_f1 is None or baseline.bertscore_f1 is None:
        return False
    closer = answer.bertscore_f1 - baseline.bertscore_f1
    return (closer > 0 and judgement.result == "loss") or (closer < 0 and judgement.result == "win")


def sample_rows(plan: dict[str, Any], results: JobResults) -> list[SampleRow]:
    """Every prompt of the plan with what is stored about it, in plan order."""
    candidates = plan["candidates"]
    scores: dict[str, dict[str, Any]] = {}
    for candidate in candidates:
        merged: dict[str, Any] = {}
        for start in range(0, len(plan["items"]), SCORE_CHUNK):
            stored = results.get_or_none(score_key(candidate["key"], chunk_name(start)))
            merged.update((stored or {}).get("items", {}))
        scores[candidate["key"]] = merged
    audits = {c["key"]: _findings_by_item(results, c["key"]) for c in candidates}
    factuality = "factuality" in plan["stages"]
    rows = []
    for item in plan["items"]:
        answers = []
        for candidate in candidates:
            generation = results.get_or_none(generation_key(candidate["key"], item["key"])) or {}
            figures = scores[candidate["key"]].get(item["key"], {})
            audit_id, by_item = audits[candidate["key"]]
            answers.append(
                SampleAnswer(
                    candidate=candidate["name"],
                    role=candidate["role"],
                    text=generation.get("text"),
                    finish_reason=generation.get("finish_reason"),
                    truncated=bool(generation.get("truncated")),
                    bertscore_f1=(figures.get("bertscore") or {}).get("f1"),
                    rouge_l=figures.get("rouge_l"),
                    judgement=(
                        _judgement(results, candidate["key"], item["key"])
                        if candidate["role"] == "challenger"
                        else None
                    ),
                    audit=(
                        _audit(audit_id, by_item.get(item["id"], []))
                        if factuality and audit_id is not None
                        else None
                    ),
                )
            )
        baseline = next(a for a in answers if a.role == "baseline")
        rows.append(
            SampleRow(
                key=item["key"],
                id=item["id"],
                topic=item.get("topic"),
                prompt=item["prompt"],
                reference=item.get("reference"),
                answers=answers,
                disagreement=any(
                    _signals_disagree(a, baseline) for a in answers if a.role == "challenger"
                ),
                confident_error=any(
                    a.audit is not None and a.audit.confident_error for a in answers
                ),
            )
        )
    return rows


def sample_page(
    plan: dict[str, Any], results: JobResults, keep: SampleFilter, limit: int, offset: int
) -> SamplePage:
    """One page of the rows that pass `keep`; the cursor is the offset of the next page."""
    rows = sample_rows(plan, results)
    topics = sorted({row.topic for row in rows if row.topic})
    kept = [row for row in rows if keep.keeps(row)]
    page = kept[offset : offset + limit]
    more = offset + limit < len(kept)
    return SamplePage(
        data=page,
        next_cursor=str(offset + limit) if more else None,
        has_more=more,
        total=len(kept),
        topics=topics,
        candidates=[{"name": c["name"], "role": c["role"]} for c in plan["candidates"]],
    )
