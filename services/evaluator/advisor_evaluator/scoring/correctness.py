"""Source-verified correctness per answer, from the auditor's answer audit.

For every answer the auditor counts its claims by verdict against the sources (supported,
contradicted, unverifiable) and its confident errors (contradicted claims in an unhedged
answer). A candidate's figures are means over its answers with bootstrap CIs, and the share of
answers with a confident error with a Wilson interval; two candidates are compared answer by
answer on the same prompts (paired bootstrap), never as two independent means.
"""

from __future__ import annotations

from typing import Any

from .statistics import bootstrap_mean_ci, paired_deltas, paired_summary, wilson_interval

Counts = dict[str, int]


def counts_by_item(record: dict[str, Any] | None) -> dict[str, Counts] | None:
    """The stored per-answer counts of one candidate, by item key; None when the audit gave
    none (no auditor, or one that reports only totals)."""
    if not record or not isinstance(record.get("answers"), dict):
        return None
    return {key: dict(counts) for key, counts in record["answers"].items()}


def _mean(values: list[float], bootstrap: dict[str, int]) -> dict[str, Any]:
    return bootstrap_mean_ci(
        values, resamples=bootstrap["resamples"], seed=bootstrap["seed"]
    ).to_dict()


def correctness_summary(
    counts: dict[str, Counts] | None, items: list[str], bootstrap: dict[str, int]
) -> dict[str, Any] | None:
    """One candidate's correctness over `items` (the answers the audit covered)."""
    if counts is None:
        return None
    rows = [counts[i] for i in items if i in counts]
    if not rows:
        return None
    confident = sum(r.get("confident_errors", 0) > 0 for r in rows)
    return {
        "answers": len(rows),
        "contradicted_per_answer": _mean([r["contradicted"] for r in rows], bootstrap),
        "supported_per_answer": _mean([r["supported"] for r in rows], bootstrap),
        "claims_per_answer": _mean([r["claims"] for r in rows], bootstrap),
        "confident_error_share": wilson_interval(confident, len(rows)).to_dict(),
        "answers_with_confident_error": confident,
    }


def paired_correctness(
    first: dict[str, Counts] | None,
    second: dict[str, Counts] | None,
    items: list[str],
    bootstrap: dict[str, int],
) -> dict[str, Any] | None:
    """`first` − `second` answer by answer on the prompts both were audited on: contradicted
    claims per answer, supported claims per answer, and having a confident error (0/1)."""
    if first is None or second is None:
        return None
    shared = [i for i in items if i in first and i in second]
    if not shared:
        return None

    def delta(pick: Any) -> dict[str, Any]:
        deltas = paired_deltas([pick(first[i]) for i in shared], [pick(second[i]) for i in shared])
        return paired_summary(deltas, resamples=bootstrap["resamples"], seed=bootstrap["seed"])

    return {
        "contradicted_delta": delta(lambda c: c["contradicted"]),
        "supported_delta": delta(lambda c: c["supported"]),
        "confident_error_delta": delta(lambda c: float(c.get("confident_errors", 0) > 0)),
    }
