"""The report as Markdown: verdicts first, then the paper's table side by side for the
candidates, the three axes of each verdict, the deltas with CIs, source-verified correctness,
the contrasts, the judge's bias panel, the most telling prompts side by side, hygiene,
warnings and the plots."""

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
    return (
        f"{estimate['value'] * 100:.0f}% [{estimate['low'] * 100:.0f}%, "
        f"{estimate['high'] * 100:.0f}%]"
    )


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
    lines += [
        "| candidate | BERTScore F1 | ROUGE-L | judge preference | ties | contradicted claims / answer | answers with a confident error | truncated |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in report["candidates"]:
        preference, ties = _preference_cells(report, c)
        f1 = (c["bertscore_f1"] or {}).get("value")
        rouge = (c["rouge_l"] or {}).get("value")
        lines.append(
            f"| `{c['name']}` ({c['role']}) | {_num(f1)} | {_num(rouge)} | {preference} | {ties} "
            f"| {_contradicted_cell(c)} | {_confident_cell(c)} | {c['truncated']}/{c['generations']} |"
        )
    lines += [
        "",
        "Judge preference counts pairs judged in both orders; a pair whose two orders "
        "disagree is a tie. Contradicted claims and confident errors (a contradicted claim "
        "in an unhedged answer) come from the source-verified audit.",
        "",
    ]
    lines += _axes_section(report)

    if report["comparisons"]:
        lines += ["## Differences from the baseline (95% CIs)", ""]
        lines += [
            "| challenger | Δ BERTScore F1 | Δ ROUGE-L | Δ contradicted / answer | "
            "win / tie / loss / unparseable | "
            "win rate | net preference | probability preference | Δ domain accuracy | "
            "Δ helpfulness |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for comp in report["comparisons"]:
            judge = comp.get("judge") or {}
            counts = (
                f"{judge['win']} / {judge['tie']} / {judge['loss']} / {judge['unparseable']}"
                if judge
                else "—"
            )
            contradicted = (comp.get("correctness") or {}).get("contradicted_delta")
            lines.append(
                f"| `{comp['challenger']}` | {_ci(comp['bertscore_f1_delta'])} | "
                f"{_ci(comp['rouge_l_delta'])} | {_ci(contradicted, 2)} | {counts} | "
                f"{_rate(judge.get('win_rate'))} | "
                f"{_ci(judge.get('net_preference'), 2)} | "
                f"{_ci(judge.get('probability_preference'), 2)} | "
                f"{_ci((judge.get('domain_accuracy') or {}).get('delta'), 2)} | "
                f"{_ci((judge.get('helpfulness') or {}).get('delta'), 2)} |"
            )
        lines += [""]

    lines += _correctness_section(report)
    lines += _contrasts_section(report)
    bias = report.get("judge_bias")
    if bias:
        judge = report["settings"]["judge"]
        lines += [
            "## Judge bias (measured)",
            "",
            f"Judge: `{judge['model']}` at {judge.get('endpoint') or 'the inference API'}, "
            f"temperature {judge['temperature']}.",
            "",
            "| figure | value | unbiased judge |",
            "|---|---|---|",
            f"| position consistency (same verdict in both orders) | {_rate(bias['position_consistency'])} | 100% |",
            f"| first-slot win rate (decisive single-order verdicts) | {_rate(bias['first_slot_win_rate'])} | 50% |",
            f"| longer answer wins | {_rate(bias['longer_answer_win_rate'])} | ≈50% |",
            f"| correlation of win with relative length | {_num(bias['length_win_correlation'], 3)} | ≈0 |",
            f"| unparseable replies | {bias['unparseable']}/{bias['judgements']} | 0 |",
            *_probability_rows(bias),
            "",
            _methods_line(bias),
            "",
            f"Judge preferences {'can' if bias['reliable'] else 'can NOT'} be read as "
            "evidence of quality.",
            "",
        ]

    lines += _side_by_side_section(report)
    hygiene = report["hygiene"]
    overlap = hygiene["training_overlap"]
    lines += [
        "## Prompt hygiene",
        "",
        f"- prompts: {hygiene['n_input']} given, {hygiene['n_kept']} evaluated",
        f"- exact duplicates removed: {len(hygiene['exact_duplicates'])}"
        + _pairs(hygiene["exact_duplicates"], "duplicate_of"),
        f"- near duplicates removed: {len(hygiene['near_duplicates'])}"
        + _pairs(hygiene["near_duplicates"], "duplicate_of"),
    ]
    if overlap.get("measured"):
        lines += [
            f"- overlap with the training set ({overlap['training_prompts']} prompts): "
            f"{len(overlap['exact'])} exact"
            + _pairs(overlap["exact"], "train_id")
            + f", {len(overlap['near'])} near"
            + _pairs(overlap["near"], "train_id")
            + (
                f"; excluded: {', '.join(hygiene['excluded_for_overlap'])}"
                if hygiene["excluded_for_overlap"]
                else "; kept in the evaluation"
            )
        ]
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
        check = {
            True: "MISMATCH with training",
            False: "matches training",
            None: "no training template to compare" if not adapter else "unverified",
        }[template["mismatch"]]
        lines.append(
            f"- `{c['name']}`: {what}; chat template {observed} ({check}); "
            f"truncation {_rate(c['truncation_rate'])}; mean answer {c['mean_answer_chars']} chars"
        )
    lines += [""]

    if report["skipped"]:
        lines += ["## Skipped", ""] + [f"- {k}: {v}" for k, v in report["skipped"].items()] + [""]
    if report["warnings"]:
        lines += ["## Warnings", ""] + [f"- {w}" for w in report["warnings"]] + [""]
    settings = report["settings"]
    gen, bert = settings["generation"], settings["bertscore"]
    lines += [
        "## Settings",
        "",
        f"- decoding: temperature {gen['temperature']}, top_p {gen['top_p']}, "
        f"max_tokens {gen['max_tokens']}, seed {gen['seed'] if gen['seed'] is not None else 'none'}",
        f"- BERTScore: encoder `{bert['encoder']}`, layers {bert['num_layers'] or 'default'}, "
        f"baseline rescale {'on' if bert['rescale'] else 'off'}",
        f"- bootstrap: {settings['bootstrap']['resamples']} resamples, seed {settings['bootstrap']['seed']}",
        "",
    ]
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


def _contradicted_cell(candidate: dict[str, Any]) -> str:
    correctness = candidate.get("correctness") or {}
    return _ci(correctness.get("contradicted_per_answer"), 2, signed=False)


def _confident_cell(candidate: dict[str, Any]) -> str:
    correctness = candidate.get("correctness")
    if correctness:
        return (
            f"{correctness['answers_with_confident_error']}/{correctness['answers']} "
            f"({_rate(correctness['confident_error_share'])})"
        )
    errors = candidate.get("confident_errors")
    return "—" if errors is None else str(errors)


def _axes_section(report: dict[str, Any]) -> list[str]:
    """Each verdict's three axes: the figure, its CI, the MDE and what the axis concluded."""
    rows = [c for c in report["comparisons"] if c.get("verdict_axes")]
    if not rows:
        return []
    lines = [
        "## The verdict's three axes",
        "",
        "Each axis is a paired difference, challenger − baseline, item by item (95% CI). "
        "MDE: the smallest true difference this many items detects with 80% power; an "
        "axis whose CI covers 0 is *not measurable at this size* when its MDE exceeds the "
        "difference that matters, and shows *no difference* otherwise. Correctness decides "
        "first, then preference; fidelity alone never makes a better advisor.",
        "",
        "| challenger | axis | difference [95% CI] | n | MDE | matters from | outcome |",
        "|---|---|---|---|---|---|---|",
    ]
    for comp in rows:
        verdict = comp["verdict_axes"]
        for axis, reading in verdict["axes"].items():
            estimate = reading["estimate"] or {}
            decides = " (decides)" if axis == verdict["deciding_axis"] else ""
            lines.append(
                f"| `{comp['challenger']}` | {axis} | {_ci(estimate or None, 3)} | "
                f"{estimate.get('n', '—')} | {_num(reading['mde'], 3)} | {reading['relevant']:g} | "
                f"{reading['outcome']}{decides} |"
            )
    return lines + [""]


def _correctness_section(report: dict[str, Any]) -> list[str]:
    candidates = [c for c in report["candidates"] if c.get("correctness")]
    if not candidates:
        return []
    lines = [
        "## Source-verified correctness (the auditor)",
        "",
        "Every answer's claims checked against the source corpus: means per answer with "
        "bootstrap CIs, the share of answers with a confident error with a Wilson CI.",
        "",
        "| candidate | answers | claims / answer | supported / answer | contradicted / answer | answers with a confident error |",
        "|---|---|---|---|---|---|",
    ]
    for c in candidates:
        k = c["correctness"]
        lines.append(
            f"| `{c['name']}` | {k['answers']} | {_ci(k['claims_per_answer'], 2, False)} | "
            f"{_ci(k['supported_per_answer'], 2, False)} | "
            f"{_ci(k['contradicted_per_answer'], 2, False)} | {_confident_cell(c)} |"
        )
    pairs = [
        (f"`{c['challenger']}` − `{c['baseline']}`", c.get("correctness"))
        for c in report["comparisons"]
    ]
    pairs += [
        (f"`{c['a']}` − `{c['b']}`", c.get("correctness")) for c in report.get("contrasts", [])
    ]
    pairs = [(label, k) for label, k in pairs if k]
    if pairs:
        lines += [
            "",
            "Paired, answer by answer on the same prompts (MDE at 80% power):",
            "",
            "| difference | Δ contradicted / answer | MDE | Δ supported / answer | Δ share with a confident error |",
            "|---|---|---|---|---|",
        ]
        for label, k in pairs:
            lines.append(
                f"| {label} | {_ci(k['contradicted_delta'], 2)} | "
                f"{_num(k['contradicted_delta'].get('mde'), 2)} | {_ci(k['supported_delta'], 2)} | "
                f"{_ci(k['confident_error_delta'], 2)} |"
            )
    return lines + [""]


def _contrasts_section(report: dict[str, Any]) -> list[str]:
    contrasts = report.get("contrasts") or []
    if not contrasts:
        return []
    lines = [
        "## Contrasts between candidates (95% CIs)",
        "",
        "| contrast | Δ BERTScore F1 | Δ ROUGE-L | Δ contradicted / answer |",
        "|---|---|---|---|",
    ]
    for c in contrasts:
        contradicted = (c.get("correctness") or {}).get("contradicted_delta")
        lines.append(
            f"| `{c['a']}` − `{c['b']}` | {_ci(c['bertscore_f1_delta'])} | "
            f"{_ci(c['rouge_l_delta'])} | {_ci(contradicted, 2)} |"
        )
    return lines + [""]


def _side_by_side_section(report: dict[str, Any]) -> list[str]:
    """The prompts on which each compared pair differs most, every answer in full view."""
    rows = {row["id"]: row for row in report.get("per_item") or []}
    pairs = [
        (c["challenger"], c["baseline"], c.get("telling_items") or [])
        for c in report["comparisons"]
    ]
    pairs += [(c["a"], c["b"], c.get("telling_items") or []) for c in report.get("contrasts", [])]
    pairs = [(a, b, [i for i in items if i in rows]) for a, b, items in pairs]
    if not any(items for _, _, items in pairs):
        return []
    lines = [
        "## The most telling prompts, side by side",
        "",
        "Per compared pair, the prompts on which the two differ most in contradicted "
        "claims, then in BERTScore F1.",
        "",
    ]
    for a, b, items in pairs:
        if not items:
            continue
        lines += [f"### `{a}` vs `{b}`", ""]
        for item_id in items:
            lines += side_by_side(rows[item_id], [a, b])
    return lines


def _quote(text: str, limit: int = 700) -> list[str]:
    """An answer as a block quote, shortened, its own headings made plain lines."""
    short = text.strip() if len(text.strip()) <= limit else text.strip()[:limit].rstrip() + " …"
    return [
        "> " + line.lstrip("#").strip() if line.strip() else ">" for line in short.splitlines()
    ] or ["> (empty)"]


def answer_figures(answer: dict[str, Any]) -> str:
    """One answer's figures in a line: reference score, claims against the sources, the cap."""
    parts = []
    if answer.get("bertscore_f1") is not None:
        parts.append(f"BERTScore F1 {answer['bertscore_f1']:.3f}")
    if "contradicted" in answer:
        parts.append(
            f"{answer['supported']} supported, {answer['contradicted']} contradicted "
            f"of {answer['claims']} claims"
        )
    if answer.get("truncated"):
        parts.append("cut at the token cap")
    return "; ".join(parts) or "no figures"


def side_by_side(row: dict[str, Any], names: list[str]) -> list[str]:
    """One prompt: the question, the reference, then each named candidate's answer."""
    lines = [f"**{row['id']}**: {row['prompt'].strip()}", ""]
    if row.get("reference"):
        lines += ["*Reference:*", "", *_quote(row["reference"], 400), ""]
    for name in names:
        answer = row["answers"].get(name)
        if answer is None:
            continue
        lines += [f"*`{name}`* ({answer_figures(answer)}):", "", *_quote(answer["text"]), ""]
    return lines
