"""The report as Markdown: verdicts first, then the paper's table side by side for the
candidates, the deltas with CIs, the judge's bias panel, hygiene, warnings and the plots."""

from __future__ import annotations

from typing import Any


def _num(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ci(estimate: dict[str, Any] | None, digits: int = 4, signed: bool = True) -> str:
    if not estimate or estimate.get("value") is None:
        return "—"
    sign = "+" if signed else ""
    value, low, high = estimate["value"], estimate["low"], estimate["high"]
    return f"{value:{sign}.{digits}f} [{low:{sign}.{digits}f}, {high:{sign}.{digits}f}]"


def _rate(estimate: dict[str, Any] | None) -> str:
    if not estimate or estimate.get("value") is None:
        return "—"
    return (f"{estimate['value'] * 100:.0f}% [{estimate['low'] * 100:.0f}%, "
            f"{estimate['high'] * 100:.0f}%]")  # fmt: skip


def _preference_cells(report: dict[str, Any], candidate: dict[str, Any]) -> tuple[str, str]:
    """(preference, ties) of a candidate in the paper's Table 5 sense, over both-order pairs."""
    for comparison in report["comparisons"]:
        judge = comparison.get("judge")
        if not judge or not judge["pairs"]:
            continue
        n = judge["pairs"]
        ties = f"{judge['tie']}/{n} ({judge['tie'] / n:.0%})"
        if comparison["challenger"] == candidate["name"]:
            return f"{judge['win']}/{n} ({judge['win'] / n:.0%})", ties
        if candidate["role"] == "baseline" and len(report["comparisons"]) == 1:
            return f"{judge['loss']}/{n} ({judge['loss'] / n:.0%})", ties
    return "—", "—"


def render_markdown(report: dict[str, Any], plots: list[str]) -> str:
    """Markdown text of `report`; `plots` are file names next to it."""
    lines = [f"# Evaluation report — {report['job_id']}", ""]
    lines += ["## Verdict", ""]
    lines += [f"- {line}" for line in report["verdicts"]] or ["- (one candidate: nothing compared)"]
    lines += ["", f"{report['items']} prompts after hygiene; baseline: `{report['baseline']}`.", ""]

    lines += ["## Results (the paper's table)", ""]
    lines += ["| candidate | BERTScore F1 | ROUGE-L | judge preference | ties | confident errors | truncated |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in report["candidates"]:
        preference, ties = _preference_cells(report, c)
        errors = "—" if c["confident_errors"] is None else str(c["confident_errors"])
        f1 = (c["bertscore_f1"] or {}).get("value")
        rouge = (c["rouge_l"] or {}).get("value")
        lines.append(
            f"| `{c['name']}` ({c['role']}) | {_num(f1)} | {_num(rouge)} | {preference} | {ties} "
            f"| {errors} | {c['truncated']}/{c['generations']} |"
        )
    lines += ["", "Judge preference counts pairs judged in both orders; a pair whose two orders "
              "disagree is a tie. Confident errors come from the source-verified audit.", ""]  # fmt: skip

    if report["comparisons"]:
        lines += ["## Differences from the baseline (95% CIs)", ""]
        lines += ["| challenger | Δ BERTScore F1 | Δ ROUGE-L | win / tie / loss / unparseable | "
                  "win rate | net preference | probability preference | Δ domain accuracy | "
                  "Δ helpfulness |",
                  "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for comp in report["comparisons"]:
            judge = comp.get("judge") or {}
            counts = (f"{judge['win']} / {judge['tie']} / {judge['loss']} / {judge['unparseable']}"
                      if judge else "—")  # fmt: skip
            lines.append(
                f"| `{comp['challenger']}` | {_ci(comp['bertscore_f1_delta'])} | "
                f"{_ci(comp['rouge_l_delta'])} | {counts} | {_rate(judge.get('win_rate'))} | "
                f"{_ci(judge.get('net_preference'), 2)} | "
                f"{_ci(judge.get('probability_preference'), 2)} | "
                f"{_ci((judge.get('domain_accuracy') or {}).get('delta'), 2)} | "
                f"{_ci((judge.get('helpfulness') or {}).get('delta'), 2)} |"
            )
        lines += [""]

    bias = report.get("judge_bias")
    if bias:
        judge = report["settings"]["judge"]
        lines += ["## Judge bias (measured)", "",
                  f"Judge: `{judge['model']}` at {judge.get('endpoint') or 'the inference API'}, "
                  f"temperature {judge['temperature']}.", "",
                  "| figure | value | unbiased judge |", "|---|---|---|",
                  f"| position consistency (same verdict in both orders) | {_rate(bias['position_consistency'])} | 100% |",
                  f"| first-slot win rate (decisive single-order verdicts) | {_rate(bias['first_slot_win_rate'])} | 50% |",
                  f"| longer answer wins | {_rate(bias['longer_answer_win_rate'])} | ≈50% |",
                  f"| correlation of win with relative length | {_num(bias['length_win_correlation'], 3)} | ≈0 |",
                  f"| unparseable replies | {bias['unparseable']}/{bias['judgements']} | 0 |",
                  *_probability_rows(bias),
                  "", _methods_line(bias),
                  "", f"Judge preferences {'can' if bias['reliable'] else 'can NOT'} be read as "
                  "evidence of quality.", ""]  # fmt: skip

    hygiene = report["hygiene"]
    overlap = hygiene["training_overlap"]
    lines += ["## Prompt hygiene", "",
              f"- prompts: {hygiene['n_input']} given, {hygiene['n_kept']} evaluated",
              f"- exact duplicates removed: {len(hygiene['exact_duplicates'])}"
              + _pairs(hygiene["exact_duplicates"], "duplicate_of"),
              f"- near duplicates removed: {len(hygiene['near_duplicates'])}"
              + _pairs(hygiene["near_duplicates"], "duplicate_of")]  # fmt: skip
    if overlap.get("measured"):
        lines += [f"- overlap with the training set ({overlap['training_prompts']} prompts): "
                  f"{len(overlap['exact'])} exact" + _pairs(overlap["exact"], "train_id")
                  + f", {len(overlap['near'])} near" + _pairs(overlap["near"], "train_id")
                  + (f"; excluded: {', '.join(hygiene['excluded_for_overlap'])}"
                     if hygiene["excluded_for_overlap"] else "; kept in the evaluation")]  # fmt: skip
    else:
        lines += [f"- overlap with the training set: not measured ({overlap.get('reason')})"]
    lines += [""]

    lines += ["## Candidates", ""]
    for c in report["candidates"]:
        template = c["chat_template"]
        adapter = c["adapter"]
        if adapter:
            what = f"adapter `{adapter['ref']}` on `{adapter['base_model']}`"
        elif c.get("parent"):
            what = f"derived from `{c['parent']}` (no bundle of that name in the store)"
        else:
            what = "base model"
        observed = ", ".join(s[:12] for s in template["observed"]) or "not reported"
        check = {True: "MISMATCH with training", False: "matches training",
                 None: "no training template to compare" if not adapter else "unverified"}[template["mismatch"]]  # fmt: skip
        lines.append(f"- `{c['name']}`: {what}; chat template {observed} ({check}); "
                     f"truncation {_rate(c['truncation_rate'])}; mean answer {c['mean_answer_chars']} chars")  # fmt: skip
    lines += [""]

    if report["skipped"]:
        lines += ["## Skipped", ""] + [f"- {k}: {v}" for k, v in report["skipped"].items()] + [""]
    if report["warnings"]:
        lines += ["## Warnings", ""] + [f"- {w}" for w in report["warnings"]] + [""]
    settings = report["settings"]
    gen, bert = settings["generation"], settings["bertscore"]
    lines += ["## Settings", "",
              f"- decoding: temperature {gen['temperature']}, top_p {gen['top_p']}, "
              f"max_tokens {gen['max_tokens']}, seed {gen['seed'] if gen['seed'] is not None else 'none'}",
              f"- BERTScore: encoder `{bert['encoder']}`, layers {bert['num_layers'] or 'default'}, "
              f"baseline rescale {'on' if bert['rescale'] else 'off'}",
              f"- bootstrap: {settings['bootstrap']['resamples']} resamples, seed {settings['bootstrap']['seed']}",
              ""]  # fmt: skip
    if plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(lines)


def _pairs(entries: list[dict[str, Any]], other: str) -> str:
    if not entries:
        return ""
    shown = ", ".join(f"{e['id']}→{e[other]}" for e in entries[:8])
    return f" ({shown}{' …' if len(entries) > 8 else ''})"


def _probability_rows(bias: dict[str, Any]) -> list[str]:
    """The rows only a judge read from its token probabilities has."""
    margin = bias.get("margin") or {}
    if not margin.get("n"):
        return []
    q = margin["quantiles"]
    return [
        f"| lean to slot A, (P(A) − P(B)) / P(any answer), mean | "
        f"{_ci(bias['first_slot_lean'], 3)} | 0 |",
        f"| verdict margin, median [p10, p90] (n = {margin['n']}) | "
        f"{q['p50']:.2f} [{q['p10']:.2f}, {q['p90']:.2f}] | — |",
        f"| probability on an answer at all (A, B or tie), median | "
        f"{_num(bias['option_mass_median'], 2)} | 1 |",
    ]


def _methods_line(bias: dict[str, Any]) -> str:
    methods = bias.get("methods") or {}
    read = {"logprobs": "from the first token's probabilities", "text": "parsed from free text"}
    return (
        "Verdicts: "
        + "; ".join(f"{n} {read.get(method, method)}" for method, n in sorted(methods.items()))
        + "."
    )
