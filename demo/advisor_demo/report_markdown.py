"""`report.md` of the demo, written like the results section of a paper: what was compared, the
verdict per fine-tune, the two findings with their figures, a table and a figure per axis, the
telling prompts side by side, the training handoff, the audit of the training data and what the
run cost. No raw JSON: `report.json` holds every figure for machines.
"""

from __future__ import annotations

from typing import Any

PER_CONTRAST = 2  # side-by-side prompts per compared pair


def device_label(session: dict[str, Any]) -> str:
    """The card a session stood in for (simulated on CPU) or the device it really ran on."""
    simulated = session.get("simulated_device") or {}
    if simulated.get("name"):
        return f"{simulated['name']} (simulated on {session['device_name']})"
    return str(session["device_name"])


def _ci(estimate: dict[str, Any] | None, digits: int = 3, signed: bool = True) -> str:
    if not estimate or estimate.get("value") is None or estimate.get("low") is None:
        return "—"
    sign = "+" if signed else ""
    return (
        f"{estimate['value']:{sign}.{digits}f} [{estimate['low']:{sign}.{digits}f}, "
        f"{estimate['high']:{sign}.{digits}f}]"
    )


def _rate(estimate: dict[str, Any] | None) -> str:
    if not estimate or estimate.get("value") is None:
        return "—"
    value = f"{estimate['value'] * 100:.0f}%"
    if estimate.get("low") is None:
        return value
    return f"{value} [{estimate['low'] * 100:.0f}%, {estimate['high'] * 100:.0f}%]"


def _share(rate: dict[str, Any]) -> str:
    """An auditor rate `{count, n, rate, wilson_ci}` as `x% [lo, hi]`."""
    if not rate.get("n"):
        return "—"
    low, high = rate["wilson_ci"]
    return f"{rate['rate'] * 100:.1f}% [{low * 100:.1f}%, {high * 100:.1f}%]"


def _wilson(rate: dict[str, Any]) -> str:
    """An auditor rate as `k/n (x% [lo, hi])`."""
    return f"{rate['count']}/{rate['n']} ({_share(rate)})" if rate.get("n") else "—"


def render_markdown(
    data: dict[str, Any], rows: list[dict[str, str]], labels: dict[str, str], figures: list[str]
) -> str:
    """The whole report; `figures` are the evaluator's figures copied next to it."""
    evaluation = data["evaluation"]["report"]
    lines = [
        "# Did the fine-tune make the advisor better?",
        "",
        _abstract(data, labels),
        "",
        "## Verdict",
        "",
    ]
    names = {name: label for label, name in labels.items()}
    for comparison in evaluation["comparisons"]:
        label = names.get(comparison["challenger"], comparison["challenger"])
        lines += [f"- **{label}** (`{comparison['challenger']}`): {comparison['verdict']}", ""]
    lines += _findings_section(data, labels)
    lines += _results_section(evaluation, rows, labels, figures)
    lines += _judge_section(evaluation, figures)
    lines += _side_by_side_section(evaluation, data, labels)
    lines += _training_section(data)
    lines += _audit_section(data["audit"]["summary"])
    lines += _cost_section(data)
    return "\n".join(lines)


def _abstract(data: dict[str, Any], labels: dict[str, str]) -> str:
    evaluation = data["evaluation"]["report"]
    profile = data["profile"]
    steps = profile["train_steps"] or "three epochs of"
    gate = data["audit"]["summary"].get("gate") or {}
    return (
        f"We fine-tuned `{profile['base_model']}` with LoRA for {steps} optimizer steps on the "
        f"sample advising data twice: on all of it (**fine-tuned**) and on what the audit gate "
        f"kept (**fine-tuned (gated data)**: {gate.get('kept', '?')} conversations kept, "
        f"{gate.get('quarantined', '?')} quarantined for a claim the sources contradict), each "
        f"handed off between two training sessions. Both fine-tunes and the base model answered "
        f"{evaluation['items']} test prompts (greedy, at most {profile['new_tokens']} new "
        "tokens). Each answer was compared on three axes: **fidelity**, its BERTScore F1 "
        "against the synthetic reference answer; **correctness**, its claims checked against "
        "the source documents by the auditor; **preference**, a blind judge that saw every pair "
        "in both orders. Every difference below is paired, prompt by prompt, with a 95% "
        f"confidence interval (profile **{profile['name']}**; sizes at the end)."
    )


def _findings_section(data: dict[str, Any], labels: dict[str, str]) -> list[str]:
    findings = data["findings"]
    names = {name: label for label, name in labels.items()}
    lines = [
        "## The paper's two findings",
        "",
        "**(a) The fine-tune moves toward its references.**",
        "",
    ]
    for name, finding in findings["a_fidelity"].items():
        lines.append(f"- {names.get(name, name)}: {finding['text']}.")
    gating = findings["b_ungated_vs_gated"]
    lines += [
        "",
        "**(b) The fine-tune on ungated data makes more source-contradicted claims "
        "than the one on gated data.**",
        "",
        f"- {gating['text']}.",
        "",
    ]
    if data.get("profile", {}).get("name") == "embedded":
        # The embedded sizes were picked where the study curve showed both findings, on the
        # prompts this run answers; a figure on the prompts a setting was chosen on is
        # optimistic, so the reader is sent to the check that was not.
        lines += [
            "The embedded profile's sizes were chosen on these prompts, so read these findings "
            "as this run's; docs/demo.md gives the same study on prompts and a training draw "
            "they were not chosen on.",
            "",
        ]
    return lines


def _results_section(
    evaluation: dict[str, Any],
    rows: list[dict[str, str]],
    labels: dict[str, str],
    figures: list[str],
) -> list[str]:
    lines = [
        "## Results",
        "",
        "**Table 1.** The paper's table, measured in this run (95% intervals: bootstrap for "
        "means and differences, Wilson for rates).",
        "",
        "| | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
        *[f"| {r['metric']} | " + " | ".join(r[label] for label in labels) + " |" for r in rows],
        "",
    ]
    if "three_axes.png" in figures:
        lines += [
            "![the three axes](three_axes.png)",
            "",
            "**Figure 1.** Each fine-tune against the base model on the three axes, and the "
            "ungated fine-tune against the gated one (black). Bars: 95% CI; blue band: the "
            "minimum detectable effect at 80% power; dotted: the difference that matters.",
            "",
        ]
    axes_rows = [
        (comparison["challenger"], axis, reading)
        for comparison in evaluation["comparisons"]
        for axis, reading in (comparison.get("verdict_axes") or {}).get("axes", {}).items()
    ]
    if axes_rows:
        lines += [
            "**Table 2.** The verdict's axes: difference to the base model, minimum "
            "detectable effect (MDE) and outcome.",
            "",
            "| fine-tune | axis | difference [95% CI] | n | MDE | outcome |",
            "|---|---|---|---|---|---|",
        ]
        names = {name: label for label, name in labels.items()}
        for challenger, axis, reading in axes_rows:
            estimate = reading.get("estimate") or {}
            mde = "—" if reading.get("mde") is None else f"{reading['mde']:.3f}"
            lines.append(
                f"| {names.get(challenger, challenger)} | {axis} | {_ci(estimate or None)} "
                f"| {estimate.get('n', '—')} | {mde} | {reading['outcome']} |"
            )
        lines.append("")
    correctness = [c for c in evaluation["candidates"] if c.get("correctness")]
    if correctness:
        lines += [
            "**Table 3.** Source-verified correctness per answer (the auditor).",
            "",
            "| model | answers | claims / answer | supported / answer | contradicted / answer | answers with a confident error |",
            "|---|---|---|---|---|---|",
        ]
        names = {name: label for label, name in labels.items()}
        for c in correctness:
            k = c["correctness"]
            lines.append(
                f"| {names.get(c['name'], c['name'])} | {k['answers']} | "
                f"{_ci(k['claims_per_answer'], 2, False)} | {_ci(k['supported_per_answer'], 2, False)} | "
                f"{_ci(k['contradicted_per_answer'], 2, False)} | "
                f"{k['answers_with_confident_error']}/{k['answers']} ({_rate(k['confident_error_share'])}) |"
            )
        lines.append("")
    return lines


def _judge_section(evaluation: dict[str, Any], figures: list[str]) -> list[str]:
    bias = evaluation.get("judge_bias")
    if not bias:
        return []
    judge = evaluation["settings"]["judge"]
    lines = [
        "## The judge",
        "",
        f"The judge is `{judge['model']}`, asked for one token (A, B or tie) and read from its "
        "token probabilities; every pair was judged in both orders.",
        "",
        "| figure | measured | an unbiased judge |",
        "|---|---|---|",
        f"| replies without a verdict | {bias['unparseable']}/{bias['judgements']} | 0 |",
        f"| pairs with the same verdict in both orders | {_rate(bias['position_consistency'])} | 100% |",
        f"| lean to the first slot, (P(A) − P(B)) / P(any option) | {_ci(bias.get('first_slot_lean'), 2)} | 0 |",
        "",
        "Its preferences " + ("can" if bias["reliable"] else "can **not**") + " be read as "
        "evidence of quality"
        + (
            "."
            if bias["reliable"]
            else ": when the answers swap slots its "
            "verdict mostly follows the slot, so the verdict above does not "
            "rest on it."
        ),
        "",
    ]
    if "judge_bias.png" in figures:
        lines += ["![the judge's bias](judge_bias.png)", ""]
    return lines


def _quote(text: str, limit: int = 600) -> list[str]:
    short = text.strip() if len(text.strip()) <= limit else text.strip()[:limit].rstrip() + " …"
    quoted = [
        "> " + line.lstrip("#").strip() if line.strip() else ">" for line in short.splitlines()
    ]
    return quoted or ["> (empty answer)"]


def _figures_of(answer: dict[str, Any]) -> str:
    parts = []
    if answer.get("bertscore_f1") is not None:
        parts.append(f"BERTScore F1 {answer['bertscore_f1']:.3f}")
    if "contradicted" in answer:
        parts.append(
            f"{answer['contradicted']} contradicted and {answer['supported']} supported "
            f"of {answer['claims']} claim{'s' if answer['claims'] != 1 else ''}"
        )
    if answer.get("truncated"):
        parts.append("cut at the token cap")
    return "; ".join(parts)


def _side_by_side_section(
    evaluation: dict[str, Any], data: dict[str, Any], labels: dict[str, str]
) -> list[str]:
    rows = {row["id"]: row for row in evaluation.get("per_item") or []}
    if not rows:
        return []
    names = {name: label for label, name in labels.items()}
    ungated, gated = data["names"]["ungated"], data["names"]["gated"]
    pairs: list[tuple[str, list[str], list[str]]] = []
    for contrast in evaluation.get("contrasts") or []:
        if (contrast["a"], contrast["b"]) == (ungated, gated):
            pairs.append(
                (
                    "the two fine-tunes",
                    [ungated, gated, "base"],
                    contrast.get("telling_items") or [],
                )
            )
    for comparison in evaluation["comparisons"]:
        if comparison["challenger"] == ungated:
            pairs.append(
                (
                    "the fine-tune on all the data against the base model",
                    [ungated, comparison["baseline"]],
                    comparison.get("telling_items") or [],
                )
            )
    lines = [
        "## The most telling prompts",
        "",
        "The prompts on which the two models differ most in contradicted claims, then in "
        "BERTScore F1, with the reference answer (itself synthetic, and wrong on some "
        "prompts) and each answer as generated.",
        "",
    ]
    shown: set[str] = set()
    for title, models, items in pairs:
        chosen = [i for i in items if i in rows and i not in shown][:PER_CONTRAST]
        if not chosen:
            continue
        lines += [f"### {title.capitalize()}", ""]
        for item_id in chosen:
            shown.add(item_id)
            row = rows[item_id]
            lines += [f"**{item_id}.** {row['prompt'].strip()}", ""]
            if row.get("reference"):
                lines += ["*Reference:*", "", *_quote(row["reference"], 400), ""]
            for name in models:
                answer = row["answers"].get(name)
                if answer is not None:
                    lines += [
                        f"*{names.get(name, name)}* ({_figures_of(answer)}):",
                        "",
                        *_quote(answer["text"]),
                        "",
                    ]
    return lines if shown else []


def _training_section(data: dict[str, Any]) -> list[str]:
    lines = [
        "## Training: two sessions, one handoff",
        "",
        "![loss across the handoff](loss_across_handoff.png)",
        "",
        "**Figure 2.** Training and validation loss per optimizer step; the dashed line is "
        "where the first session stopped and a new process resumed from the adapter "
        "bundle.",
        "",
    ]
    for run in data["training"]:
        reused = ", reused from an earlier run" if run["reused"] else ""
        lines += [
            f"**{run['label']}** (`{run['adapter']}`{reused})",
            "",
            "| session | device | dtype | backend | steps | wall time | stop reason |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in run["ledger"].get("sessions", []):
            lines.append(
                f"| {s['index']} | {device_label(s)} | {s['dtype']} | {s['backend']} | "
                f"{s['first_step'] + 1}–{s['first_step'] + s['steps']} | {s['wall_time_s']:.0f} s "
                f"| {s['stop_reason']} |"
            )
        lines.append("")
    return lines


def _audit_section(summary: dict[str, Any]) -> list[str]:
    gate = summary.get("gate") or {}
    lines = [
        "## The training data: audit and gate",
        "",
        f"The auditor checked {summary.get('claims', '?')} claims of "
        f"{summary.get('items_audited', '?')} training conversations against the sources. "
        f"Conversations with a contradicted claim: {_wilson(summary['error_rate'])}; the gate "
        f"kept {gate.get('kept', '?')} and quarantined {gate.get('quarantined', '?')}.",
        "",
        "| error class | conversations | share [95% CI] |",
        "|---|---|---|",
    ]
    for name, rate in (summary.get("by_error_class") or {}).items():
        lines.append(f"| {name.replace('_', ' ')} | {rate['count']}/{rate['n']} | {_share(rate)} |")
    lines += ["", "![audit by class](audit_by_class.png)", ""]
    return lines


def _cost_section(data: dict[str, Any]) -> list[str]:
    lines = [
        "## Sizes and cost",
        "",
        "| setting | this run | production |",
        "|---|---|---|",
        *[f"| {r['setting']} | {r['this run']} | {r['production']} |" for r in data["sizes"]],
        "",
        "| stage | wall seconds | CPU seconds |",
        "|---|---|---|",
    ]
    cpu = data.get("cpu_seconds") or {}
    lines += [
        f"| {name} | {seconds:.0f} | {cpu[name]:.0f} |"
        if name in cpu
        else f"| {name} | {seconds:.0f} | |"
        for name, seconds in data["timings"].items()
    ]
    return lines + [
        "",
        "CPU seconds add up the demo's processes (servers count in the stage "
        "that stops them); on a busy host the wall time grows, the CPU time much "
        "less.",
        "",
    ]
