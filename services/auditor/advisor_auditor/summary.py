"""Aggregate item audits into the summary: error rate with a Wilson 95% CI, per topic and per
error class, confident errors, verdict counts; for model answers also each answer's claim
counts, which an evaluator compares answer by answer between models."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from .conversation_audit import ItemAudit
from .findings import ERROR_CLASSES, Finding, Verdict
from .stats import rate_with_interval


def summarise(audits: list[ItemAudit], *, population: int | None = None) -> dict[str, Any]:
    """The summary of an audit over `audits` (a sample of `population` items, if given)."""
    n = len(audits)
    flagged = [a for a in audits if a.flagged]
    confident = [a for a in audits if a.confident_errors]
    verdicts = Counter(f.verdict.value for a in audits for f in a.findings)
    by_topic: dict[str, list[ItemAudit]] = defaultdict(list)
    for audit in audits:
        by_topic[audit.topic or "unknown"].append(audit)
    class_counts: Counter[str] = Counter()
    for audit in flagged:
        for error_class in {f.error_class or "other" for f in audit.errors}:
            class_counts[error_class] += 1
    return {
        "items_audited": n,
        "population": population if population is not None else n,
        "claims": sum(len(a.findings) for a in audits),
        "verdicts": {v.value: verdicts.get(v.value, 0) for v in Verdict},
        "error_rate": rate_with_interval(len(flagged), n),
        # Items with a contradicted, unhedged claim (docs/paper.md §3.4, "confident error").
        "confident_errors": len(confident),
        "confident_error_rate": rate_with_interval(len(confident), n),
        "by_topic": {
            topic: rate_with_interval(sum(a.flagged for a in items), len(items))
            for topic, items in sorted(by_topic.items())
        },
        "by_error_class": {
            error_class: rate_with_interval(class_counts.get(error_class, 0), n)
            for error_class in (*ERROR_CLASSES, "other")
            if error_class != "other" or class_counts.get("other")
        },
        "flagged_items": [a.item_id for a in flagged],
    }


def _distinct(findings: list[Finding]) -> list[Finding]:
    """One finding per claim text and verdict: a claim an answer repeats is one claim. Small
    models loop ("… 120000 euros or more." three times), and counting each repetition would
    measure the looping, not what the answer asserts."""
    seen: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        seen.setdefault((" ".join(finding.claim.lower().split()), finding.verdict.value), finding)
    return list(seen.values())


def answer_counts(audit: ItemAudit) -> dict[str, int]:
    """One answer's distinct claims by verdict, and how many of its contradicted ones are
    confident (unhedged) errors."""
    findings = _distinct(audit.findings)
    verdicts = Counter(f.verdict.value for f in findings)
    return {
        "claims": len(findings),
        **{v.value: verdicts.get(v.value, 0) for v in Verdict},
        "confident_errors": sum(f.confident_error for f in findings),
    }


def per_answer(audits: list[ItemAudit]) -> dict[str, dict[str, int]]:
    """`answer_counts` of every audited answer, by its id (the evaluator pairs answers of two
    models to the same prompt through it)."""
    return {audit.item_id: answer_counts(audit) for audit in audits}
