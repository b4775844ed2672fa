"""Assemble the report from a job's results, read from the store by the caller: per-candidate
figures, comparisons with the baseline (deltas with paired bootstrap CIs, both-order judge
outcomes with Wilson CIs, source-verified correctness answer by answer), the contrasts the
request asked for between two candidates, the judge's measured bias, warnings, and one
three-axis verdict per comparison."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ..judging.bias import SlotJudgement, measure_judge_bias
from ..judging.pairwise import (
    ORDERS,
    OrderReading,
    PairVerdict,
    combine_orders,
    deblind,
    mean_score,
)
from ..judging.parsing import SlotScores, Verdict
from ..scoring.correctness import correctness_summary, counts_by_item, paired_correctness
from ..scoring.statistics import (
    Estimate,
    bootstrap_mean_ci,
    paired_deltas,
    paired_summary,
    wilson_interval,
)
from .axes import (
    RELEVANT_BERTSCORE,
    RELEVANT_CONTRADICTED,
    RELEVANT_NET_PREFERENCE,
    RELEVANT_PROBABILITY_PREFERENCE,
    AxisEvidence,
    three_axis_verdict,
)
from .model_family import shared_family_warning
from .per_item import per_item_rows, telling_items

# Above these rates the report warns: the numbers are then hard to interpret.
TRUNCATION_WARNING_RATE = 0.2
UNPARSEABLE_WARNING_RATE = 0.2


def _verdict(record: dict[str, Any]) -> Verdict:
    stored = record["verdict"]
    return Verdict(stored["preference"], SlotScores(**stored["a"]), SlotScores(**stored["b"]))


def _slot_judgement(record: dict[str, Any]) -> SlotJudgement:
    """One stored judgement with what its probabilities say (records of the text method, and
    those written before the method was recorded, have none)."""
    probabilities = record.get("logprobs") or {}
    masses = probabilities.get("masses") or {}
    option_mass = probabilities.get("option_mass")
    lean = (masses.get("A", 0.0) - masses.get("B", 0.0)) / option_mass if option_mass else None
    return SlotJudgement(
        _verdict(record),
        record["length_a"],
        record["length_b"],
        method=record.get("method", "text"),
        margin=probabilities.get("margin"),
        first_slot_lean=lean,
        option_mass=option_mass,
    )


def _challenger_advantage(judgement: SlotJudgement, order: str) -> float | None:
    """(P(challenger's slot) − P(baseline's slot)) / mass on the options, in one order."""
    if judgement.first_slot_lean is None:
        return None
    return judgement.first_slot_lean if order == "ab" else -judgement.first_slot_lean


@dataclass
class StoredResults:
    """Every stored result of a job, indexed by candidate key (then item key, then order)."""

    generations: dict[str, dict[str, dict[str, Any]]]
    scores: dict[str, dict[str, dict[str, Any]]]
    judgements: dict[str, dict[str, dict[str, dict[str, Any]]]]
    factuality: dict[str, dict[str, Any]]


def _mean_with_ci(values: list[float], bootstrap: dict[str, int]) -> dict[str, Any] | None:
    if not values:
        return None
    return bootstrap_mean_ci(
        values, resamples=bootstrap["resamples"], seed=bootstrap["seed"]
    ).to_dict()


def _template_summary(
    candidate: dict[str, Any], generations: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    observed = sorted(
        {g["chat_template_sha256"] for g in generations.values() if g.get("chat_template_sha256")}
    )
    expected = (candidate.get("adapter") or {}).get("chat_template_sha256")
    flags = sorted(
        {
            g["template_mismatch_flag"]
            for g in generations.values()
            if g.get("template_mismatch_flag")
        }
    )
    mismatch: bool | None = None
    if expected is not None and observed:
        mismatch = any(sha != expected for sha in observed)
    if flags:
        mismatch = True  # the gateway itself flagged the adapter as served off its template
    return {
        "observed": observed,
        "expected": expected,
        "mismatch": mismatch,
        "gateway_flags": flags,
    }


def _confident_errors(record: dict[str, Any] | None) -> int | None:
    if record is None:
        return None
    value = record.get("confident_errors")
    return int(value) if isinstance(value, int | float) else None


def candidate_summary(
    plan: dict[str, Any], candidate: dict[str, Any], stored: StoredResults
) -> dict[str, Any]:
    """One row of the candidates table."""
    key = candidate["key"]
    items = [item["key"] for item in plan["items"]]
    generations = stored.generations.get(key, {})
    truncated = sum(bool(generations[i].get("truncated")) for i in items if i in generations)
    scores = stored.scores.get(key, {})
    bert = [scores[i]["bertscore"]["f1"] for i in items if "bertscore" in scores.get(i, {})]
    rouge = [scores[i]["rouge_l"] for i in items if "rouge_l" in scores.get(i, {})]
    lengths = [len(generations[i]["text"]) for i in items if i in generations]
    return {
        "key": key,
        "name": candidate["name"],
        "role": candidate["role"],
        "adapter": candidate.get("adapter"),
        "parent": candidate.get("parent"),
        "generations": len(generations),
        "truncation_rate": wilson_interval(truncated, len(generations)).to_dict(),
        "truncated": truncated,
        "mean_answer_chars": round(sum(lengths) / len(lengths), 1) if lengths else None,
        "chat_template": _template_summary(candidate, generations),
        "bertscore_f1": _mean_with_ci(bert, plan["bootstrap"]),
        "rouge_l": _mean_with_ci(rouge, plan["bootstrap"]),
        "confident_errors": _confident_errors(stored.factuality.get(key)),
        "correctness": correctness_summary(
            counts_by_item(stored.factuality.get(key)), items, plan["bootstrap"]
        ),
        "factuality": _factuality_record(stored.factuality.get(key)),
    }


def _factuality_record(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored audit outcome without its per-answer counts (the correctness figures and
    the per-prompt table hold those)."""
    return None if record is None else {k: v for k, v in record.items() if k != "answers"}


def _paired_metric(
    plan: dict[str, Any], stored: StoredResults, first: str, pick: Any, second: str | None = None
) -> dict[str, Any] | None:
    """`first` − `second` (default: the baseline) of a reference metric, item by item."""
    items = [item["key"] for item in plan["items"]]
    second = second or plan["baseline"]
    pairs = [
        (pick(stored.scores[first][i]), pick(stored.scores[second][i]))
        for i in items
        if i in stored.scores.get(first, {}) and i in stored.scores.get(second, {})
    ]
    pairs = [(c, b) for c, b in pairs if c is not None and b is not None]
    if not pairs:
        return None
    deltas = paired_deltas([c for c, _ in pairs], [b for _, b in pairs])
    return paired_summary(
        deltas, resamples=plan["bootstrap"]["resamples"], seed=plan["bootstrap"]["seed"]
    )


def _bertscore(scores: dict[str, Any]) -> float | None:
    return scores.get("bertscore", {}).get("f1")


def _rouge(scores: dict[str, Any]) -> float | None:
    return scores.get("rouge_l")


def _item_counts(plan: dict[str, Any], stored: StoredResults, key: str) -> Any:
    return counts_by_item(stored.factuality.get(key))


def judge_comparison(
    plan: dict[str, Any], stored: StoredResults, challenger: str
) -> tuple[dict[str, Any], list[SlotJudgement], list[PairVerdict]]:
    """Both-order outcomes of one challenger vs the baseline, with score deltas."""
    bootstrap = plan["bootstrap"]
    judgements: list[SlotJudgement] = []
    pairs: list[PairVerdict] = []
    net: list[float] = []
    advantages: list[float] = []
    accuracy_deltas: list[float] = []
    helpfulness_deltas: list[float] = []
    means: dict[str, list[float]] = defaultdict(list)
    counts = {"win": 0, "tie": 0, "loss": 0, "unparseable": 0}
    for item in (i["key"] for i in plan["items"]):
        orders = stored.judgements.get(challenger, {}).get(item, {})
        if not all(order in orders for order in ORDERS):
            continue
        readings: list[OrderReading] = []
        pair_advantages: list[float | None] = []
        for order in ORDERS:
            judgement = _slot_judgement(orders[order])
            judgements.append(judgement)
            readings.append(deblind(judgement.verdict, order))
            pair_advantages.append(_challenger_advantage(judgement, order))
        if None not in pair_advantages:
            # The two orders averaged: the judge's pull to a slot cancels.
            advantages.append(sum(a for a in pair_advantages if a is not None) / 2)
        pair = combine_orders(readings[0], readings[1])
        pairs.append(pair)
        counts[pair.result] += 1
        if pair.result != "unparseable":
            net.append({"win": 1.0, "loss": -1.0, "tie": 0.0}[pair.result])
        for field, deltas in (
            ("domain_accuracy", accuracy_deltas),
            ("helpfulness", helpfulness_deltas),
        ):
            mine = mean_score(readings, "challenger", field)
            theirs = mean_score(readings, "baseline", field)
            if mine is not None and theirs is not None:
                deltas.append(mine - theirs)
                means[f"{field}_challenger"].append(mine)
                means[f"{field}_baseline"].append(theirs)
    n = len(pairs)
    bias = measure_judge_bias(judgements, pairs)

    def ci(values: list[float]) -> Estimate | None:
        return (
            bootstrap_mean_ci(values, resamples=bootstrap["resamples"], seed=bootstrap["seed"])
            if values
            else None
        )

    def paired(values: list[float]) -> dict[str, Any] | None:
        """Per-pair differences, with the SD and MDE a verdict needs."""
        if not values:
            return None
        return paired_summary(values, resamples=bootstrap["resamples"], seed=bootstrap["seed"])

    summary = {
        "pairs": n,
        **counts,
        "win_rate": wilson_interval(counts["win"], n).to_dict(),
        "tie_rate": wilson_interval(counts["tie"], n).to_dict(),
        "loss_rate": wilson_interval(counts["loss"], n).to_dict(),
        "unparseable_rate": wilson_interval(counts["unparseable"], n).to_dict(),
        "net_preference": paired(net),
        # From the token probabilities: the challenger's mean probability advantage over the
        # baseline, both orders averaged per pair (−1 … 1; 0 = no preference).
        "probability_preference": paired(advantages),
        "domain_accuracy": {
            "challenger_mean": _mean(means["domain_accuracy_challenger"]),
            "baseline_mean": _mean(means["domain_accuracy_baseline"]),
            "delta": _as_dict(ci(accuracy_deltas)),
        },
        "helpfulness": {
            "challenger_mean": _mean(means["helpfulness_challenger"]),
            "baseline_mean": _mean(means["helpfulness_baseline"]),
            "delta": _as_dict(ci(helpfulness_deltas)),
        },
        "position_consistency": bias["position_consistency"],
        "reliable": bias["reliable"],
    }
    return summary, judgements, pairs


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _as_dict(estimate: Estimate | None) -> dict[str, Any] | None:
    return estimate.to_dict() if estimate else None


def _estimate(data: dict[str, Any] | None) -> Estimate | None:
    if not data or not data.get("n") or data.get("low") is None:
        return None
    return Estimate(data["value"], data["low"], data["high"], data["n"])


def _axis_evidence(
    fidelity: dict[str, Any] | None,
    correctness: dict[str, Any] | None,
    judge: dict[str, Any] | None,
    plan: dict[str, Any],
) -> list[AxisEvidence]:
    """The three axes of one comparison, as the verdict reads them."""
    missing_correctness = None
    if correctness is None:
        missing_correctness = (
            plan["skipped"].get("factuality") or "the auditor gave no per-answer counts"
        )
    contradicted = (correctness or {}).get("contradicted_delta")
    evidence = [
        AxisEvidence(
            "correctness",
            _estimate(contradicted),
            (contradicted or {}).get("sd"),
            "contradicted claims per answer",
            higher_is_better=False,
            relevant=RELEVANT_CONTRADICTED,
            missing=missing_correctness,
        ),
    ]
    if judge is None:
        evidence.append(
            AxisEvidence(
                "preference",
                None,
                None,
                "judge preference",
                True,
                RELEVANT_NET_PREFERENCE,
                missing=plan["skipped"].get("judge") or "no judge",
            )
        )
    else:
        by_probability = judge.get("probability_preference")
        figure = by_probability or judge.get("net_preference")
        unusable = None
        if judge.get("reliable") is False:
            consistency = (judge.get("position_consistency") or {}).get("value")
            unusable = (
                "no pair got a readable verdict in both orders"
                if consistency is None
                else f"the judge kept its verdict when the answers swapped slots on only "
                f"{consistency * 100:.0f}% of pairs: it follows the order, not the answers"
            )
        evidence.append(
            AxisEvidence(
                "preference",
                _estimate(figure),
                (figure or {}).get("sd"),
                "probability preference (−1 … 1)"
                if by_probability
                else "net preference (won − lost)",
                higher_is_better=True,
                relevant=RELEVANT_PROBABILITY_PREFERENCE
                if by_probability
                else RELEVANT_NET_PREFERENCE,
                unusable=unusable,
            )
        )
    evidence.append(
        AxisEvidence(
            "fidelity",
            _estimate(fidelity),
            (fidelity or {}).get("sd"),
            "Δ BERTScore F1",
            higher_is_better=True,
            relevant=RELEVANT_BERTSCORE,
            missing=None if fidelity else "no reference metric",
        )
    )
    return evidence


def build_report(job_id: str, plan: dict[str, Any], stored: StoredResults) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    by_key = {c["key"]: c for c in plan["candidates"]}
    baseline = by_key[plan["baseline"]]
    candidates = [candidate_summary(plan, c, stored) for c in plan["candidates"]]
    warnings: list[str] = []
    all_judgements: list[SlotJudgement] = []
    all_pairs: list[PairVerdict] = []
    comparisons = []
    item_keys = [item["key"] for item in plan["items"]]
    rows = per_item_rows(plan, stored)
    for challenger in (c for c in plan["candidates"] if c["role"] == "challenger"):
        key = challenger["key"]
        fidelity = _paired_metric(plan, stored, key, _bertscore)
        judge_summary = None
        if "judge" in plan["stages"]:
            judge_summary, judgements, pairs = judge_comparison(plan, stored, key)
            all_judgements += judgements
            all_pairs += pairs
        correctness = paired_correctness(
            _item_counts(plan, stored, key),
            _item_counts(plan, stored, baseline["key"]),
            item_keys,
            plan["bootstrap"],
        )
        verdict = three_axis_verdict(
            challenger["name"],
            baseline["name"],
            _axis_evidence(fidelity, correctness, judge_summary, plan),
        )
        comparisons.append(
            {
                "challenger": challenger["name"],
                "baseline": baseline["name"],
                "bertscore_f1_delta": fidelity,
                "rouge_l_delta": _paired_metric(plan, stored, key, _rouge),
                "correctness": correctness,
                "judge": judge_summary,
                "verdict_axes": verdict.to_dict(),
                "verdict": verdict.text,
                "telling_items": telling_items(rows, challenger["name"], baseline["name"]),
            }
        )
    names = {c["key"]: c["name"] for c in plan["candidates"]}
    contrasts = [
        {
            "a": names[a],
            "b": names[b],
            "bertscore_f1_delta": _paired_metric(plan, stored, a, _bertscore, b),
            "rouge_l_delta": _paired_metric(plan, stored, a, _rouge, b),
            "correctness": paired_correctness(
                _item_counts(plan, stored, a),
                _item_counts(plan, stored, b),
                item_keys,
                plan["bootstrap"],
            ),
            "telling_items": telling_items(rows, names[a], names[b]),
        }
        for a, b in plan.get("contrasts", [])
    ]
    judge_bias = (
        measure_judge_bias(all_judgements, all_pairs) if "judge" in plan["stages"] else None
    )
    warnings += _warnings(plan, candidates, judge_bias)
    return {
        "job_id": job_id,
        "headline": headline(candidates, comparisons, judge_bias, contrasts),
        "items": len(plan["items"]),
        "baseline": baseline["name"],
        "settings": {
            "generation": plan["generation"],
            "judge": plan["judge"],
            "bertscore": plan["bertscore"],
            "bootstrap": plan["bootstrap"],
            "metrics": plan["metrics"],
        },
        "skipped": plan["skipped"],
        "hygiene": plan["hygiene"],
        "candidates": candidates,
        "comparisons": comparisons,
        "contrasts": contrasts,
        "judge_bias": judge_bias,
        "warnings": warnings,
        "verdicts": [c["verdict"] for c in comparisons],
        "per_item": rows,
    }


def _interval(estimate: dict[str, Any] | None) -> list[float | None] | None:
    """`[low, point, high]`, the headline's form of an estimate."""
    if not estimate or not estimate.get("n"):
        return None
    return [estimate["low"], estimate["value"], estimate["high"]]


def headline(
    candidates: list[dict[str, Any]],
    comparisons: list[dict[str, Any]],
    judge_bias: dict[str, Any] | None,
    contrasts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The few figures a reader checks first, in flat form (the sections below hold them with
    their details). The judge's rates are over single-order replies and both-order pairs; None
    where the judge did not run. Intervals are `[low, point, high]`; a candidate or comparison
    without the figure (no auditor, no reference) is left out of its mapping."""
    judged = judge_bias is not None and judge_bias["judgements"] > 0

    def correctness_delta(comparison: dict[str, Any]) -> list[float | None] | None:
        return _interval((comparison.get("correctness") or {}).get("contradicted_delta"))

    return {
        "judge_unparseable_rate": (
            round(judge_bias["unparseable"] / judge_bias["judgements"], 6)
            if judge_bias is not None and judged
            else None
        ),
        "judge_position_consistency": (
            judge_bias["position_consistency"]["value"] if judge_bias is not None else None
        ),
        "fidelity_delta": {
            c["challenger"]: interval
            for c in comparisons
            if (interval := _interval(c["bertscore_f1_delta"])) is not None
        },
        "truncated_rate": {
            c["name"]: c["truncation_rate"]["value"] for c in candidates if c["generations"]
        },
        "contradicted_per_answer": {
            c["name"]: interval
            for c in candidates
            if (interval := _interval((c.get("correctness") or {}).get("contradicted_per_answer")))
        },
        "contradicted_delta": {
            c["challenger"]: interval
            for c in comparisons
            if (interval := correctness_delta(c)) is not None
        },
        "contrasts": {
            f"{c['a']} − {c['b']}": {
                "fidelity_delta": _interval(c["bertscore_f1_delta"]),
                "contradicted_delta": correctness_delta(c),
            }
            for c in contrasts or []
        },
        "verdict": {c["challenger"]: c["verdict"] for c in comparisons},
        "deciding_axis": {c["challenger"]: c["verdict_axes"]["deciding_axis"] for c in comparisons},
    }


def _warnings(
    plan: dict[str, Any], candidates: list[dict[str, Any]], bias: dict[str, Any] | None
) -> list[str]:
    warnings = []
    for c in candidates:
        template = c["chat_template"]
        if c["adapter"] is None and c.get("parent"):
            warnings.append(
                f"{c['name']}: served as a derivative of {c['parent']!r} but no adapter bundle of "
                "that name is in this object store: its training template cannot be checked"
            )
        if template["mismatch"]:
            served = ", ".join(s[:12] for s in template["observed"]) or "; ".join(
                template["gateway_flags"]
            )
            trained = (template["expected"] or "?")[:12]
            warnings.append(
                f"{c['name']}: served with chat template {served} but trained with {trained} "
                "(docs/design.md, lesson 1): its answers were produced outside its training format"
            )
        elif c["adapter"] and template["mismatch"] is None:
            warnings.append(
                f"{c['name']}: the endpoint did not report its chat template; "
                "the match with the training template is unverified"
            )
        if c["generations"] and c["truncation_rate"]["value"] > TRUNCATION_WARNING_RATE:
            warnings.append(
                f"{c['name']}: {c['truncated']}/{c['generations']} answers hit the "
                f"{plan['generation']['max_tokens']}-token cap (finish_reason=length)"
            )
    judge = plan.get("judge")
    if judge and bias is not None:
        lineage = {
            c["name"]: [c["name"]]
            + ([c["adapter"]["base_model"]] if c["adapter"] else [])
            + ([c["parent"]] if c.get("parent") else [])
            for c in candidates
        }
        family = shared_family_warning(
            judge["model"], lineage, same_endpoint=bool(plan.get("judge_on_inference_api"))
        )
        if family:
            warnings.append(family)
        if not bias["pairs_compared_in_both_orders"]:
            warnings.append(
                f"no pair got a readable verdict in both orders ({bias['unparseable']}/"
                f"{bias['judgements']} replies unparseable): the judge measured nothing"
            )
        elif not bias["reliable"]:
            warnings.append(
                f"the judge is position-consistent on {_percent(bias['position_consistency'])} of "
                "pairs: its verdicts mostly follow the order, not the answers (inconsistent pairs "
                "count as ties), so its preferences are not evidence of quality"
            )
        longer = bias["longer_answer_win_rate"]
        if longer["n"] and longer["low"] > 0.5:
            warnings.append(
                f"the longer answer won {_percent(longer)} of decisive verdicts "
                f"[{longer['low'] * 100:.0f}%, {longer['high'] * 100:.0f}%]: answer length, not "
                "quality, may drive the judge's preferences"
            )
        if (
            bias["judgements"]
            and bias["unparseable"] / bias["judgements"] > UNPARSEABLE_WARNING_RATE
        ):
            warnings.append(
                f"{bias['unparseable']}/{bias['judgements']} judge replies were unparseable"
            )
    hygiene = plan["hygiene"]
    removed = len(hygiene["exact_duplicates"]) + len(hygiene["near_duplicates"])
    if removed:
        warnings.append(
            f"{removed} duplicate prompt(s) removed before evaluation "
            f"({hygiene['n_input']} → {hygiene['n_kept']})"
        )
    overlap = hygiene["training_overlap"]
    if overlap.get("measured") and (overlap["exact"] or overlap["near"]):
        kept = "removed" if hygiene["excluded_for_overlap"] else "kept"
        warnings.append(
            f"{len(overlap['exact'])} prompt(s) appear verbatim and {len(overlap['near'])} nearly "
            f"verbatim in the training set ({kept})"
        )
    return warnings


def _percent(estimate: dict[str, Any]) -> str:
    value = estimate.get("value")
    return "n/a" if value is None or value != value else f"{value * 100:.0f}%"
