"""Every prompt with every candidate's answer and its figures, and the prompts that tell two
candidates apart most: the side-by-side a reader checks the averages against."""

from __future__ import annotations

from typing import Any

from ..scoring.correctness import counts_by_item

TELLING = 3  # side-by-sides shown per comparison


def per_item_rows(plan: dict[str, Any], stored: Any) -> list[dict[str, Any]]:
    """One row per prompt: the question, the reference, and per candidate its answer, whether
    it hit the token cap, its reference scores and its claim counts against the sources."""
    rows = []
    counts = {
        c["key"]: counts_by_item(stored.factuality.get(c["key"])) or {} for c in plan["candidates"]
    }
    for item in plan["items"]:
        answers: dict[str, Any] = {}
        for candidate in plan["candidates"]:
            key = candidate["key"]
            generation = stored.generations.get(key, {}).get(item["key"])
            if generation is None:
                continue
            scores = stored.scores.get(key, {}).get(item["key"], {})
            claim_counts = counts[key].get(item["key"])
            answers[candidate["name"]] = {
                "text": generation["text"],
                "truncated": bool(generation.get("truncated")),
                "bertscore_f1": (scores.get("bertscore") or {}).get("f1"),
                "rouge_l": scores.get("rouge_l"),
                **(
                    {
                        k: claim_counts[k]
                        for k in ("claims", "supported", "contradicted", "confident_errors")
                        if k in claim_counts
                    }
                    if claim_counts
                    else {}
                ),
            }
        rows.append(
            {
                "key": item["key"],
                "id": item["id"],
                "prompt": item["prompt"],
                "reference": item.get("reference"),
                "answers": answers,
            }
        )
    return rows


def telling_items(
    rows: list[dict[str, Any]], first: str, second: str, k: int = TELLING
) -> list[str]:
    """The ids of the `k` prompts on which `first` and `second` differ most: by contradicted
    claims first (what the sources say), then by BERTScore F1 (closeness to the reference)."""

    def gap(row: dict[str, Any]) -> tuple[float, float]:
        a, b = row["answers"].get(first), row["answers"].get(second)
        if a is None or b is None:
            return (-1.0, -1.0)
        contradicted = abs(a.get("contradicted", 0) - b.get("contradicted", 0))
        bert = (
            abs(a["bertscore_f1"] - b["bertscore_f1"])
            if a.get("bertscore_f1") is not None and b.get("bertscore_f1") is not None
            else 0.0
        )
        return (float(contradicted), bert)

    ranked = sorted((r for r in rows if gap(r)[0] >= 0), key=gap, reverse=True)
    return [r["id"] for r in ranked[:k]]
