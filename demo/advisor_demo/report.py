"""The demo's report: `report.json` with every figure (a `headline` first), `report.md` in the
form of a paper's results section (as `advisor_evaluator.reporting.markdown` writes it), the
figures beside it, and the terminal table in the paper's layout (base vs fine-tuned vs
fine-tuned on gated data).

Every number here is read from what the stages wrote in this run — the evaluator's report, the
trainers' ledgers, the auditor's summary — nothing is typed in.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from rich.table import Table

from .findings import fidelity_finding, gating_finding
from .profile import GPU, DemoProfile
from .report_markdown import device_label, render_markdown

__all__ = ["device_label", "paper_table", "sizes_table", "terminal_table", "write_report"]

# The evaluator's figures the report shows, copied next to report.md so its links work.
EVALUATION_FIGURES = ("three_axes.png", "reference_metrics.png", "judge_bias.png")


def _pct(estimate: dict[str, Any] | None) -> str:
    if not estimate or estimate.get("value") is None:
        return "—"
    low, high = estimate.get("low"), estimate.get("high")
    band = f" [{low:.0%}, {high:.0%}]" if low is not None and high is not None else ""
    return f"{estimate['value']:.0%}{band}"


def _num(estimate: dict[str, Any] | None, digits: int = 3, signed: bool = False) -> str:
    if not estimate or estimate.get("value") is None:
        return "—"
    fmt = f"{{:{'+' if signed else ''}.{digits}f}}"
    low, high = estimate.get("low"), estimate.get("high")
    band = (
        f" [{fmt.format(low)}, {fmt.format(high)}]" if low is not None and high is not None else ""
    )
    return fmt.format(estimate["value"]) + band


def paper_table(evaluation: dict[str, Any], labels: dict[str, str]) -> list[dict[str, str]]:
    """Rows of the paper's table: one column per candidate, labelled for people."""
    by_name = {c["name"]: c for c in evaluation["candidates"]}
    comparisons = {c["challenger"]: c for c in evaluation["comparisons"]}
    rows: list[dict[str, str]] = []

    def row(metric: str, cell: Any) -> None:
        rows.append({"metric": metric} | {label: cell(name) for label, name in labels.items()})

    def compared(pick: Any) -> Any:
        return lambda n: pick(comparisons[n]) if n in comparisons else ""

    def judge(field: str) -> Any:
        return compared(lambda c: _pct((c.get("judge") or {}).get(field)))

    def correctness(field: str, digits: int = 2) -> Any:
        return lambda n: _num((by_name[n].get("correctness") or {}).get(field), digits)

    row("BERTScore F1 vs references", lambda n: _num(by_name[n].get("bertscore_f1")))
    row("Δ BERTScore vs base", compared(lambda c: _num(c.get("bertscore_f1_delta"), signed=True)))
    row("ROUGE-L", lambda n: _num(by_name[n].get("rouge_l")))
    row("contradicted claims per answer (auditor)", correctness("contradicted_per_answer"))
    row("supported claims per answer (auditor)", correctness("supported_per_answer"))
    row(
        "answers with a confident error (auditor)",
        lambda n: _pct((by_name[n].get("correctness") or {}).get("confident_error_share")),
    )
    row(
        "judge: probability preference vs base",
        compared(lambda c: _num((c.get("judge") or {}).get("probability_preference"), 2, True)),
    )
    row("judge: preferred over base", judge("win_rate"))
    row("judge: base preferred", judge("loss_rate"))
    row("judge: ties (incl. order-inconsistent)", judge("tie_rate"))
    row("truncated at the token cap", lambda n: _pct(by_name[n].get("truncation_rate")))
    return rows


def terminal_table(rows: list[dict[str, str]], labels: dict[str, str]) -> Table:
    table = Table(title="advisor demo — the paper's table, measured in this run")
    table.add_column("")
    for label in labels:
        table.add_column(label, justify="right")
    for r in rows:
        table.add_row(r["metric"], *(r[label] for label in labels))
    return table


def plot_loss_across_handoff(runs: list[dict[str, Any]], path: Path) -> None:
    """Training and eval loss per step for each fine-tune, the session boundary marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4), squeeze=False)
    for axis, run in zip(axes[0], runs, strict=True):
        ledger = run["ledger"]
        losses = ledger.get("loss_history", [])
        axis.plot([p["step"] for p in losses], [p["loss"] for p in losses], label="train loss")
        evals = ledger.get("eval_history", [])
        if evals:
            axis.plot(
                [p["step"] for p in evals], [p["eval_loss"] for p in evals], "o-", label="eval loss"
            )
        for session in ledger.get("sessions", [])[1:]:
            axis.axvline(session["first_step"] + 0.5, color="red", linestyle="--")
            axis.text(
                session["first_step"] + 0.5, axis.get_ylim()[1], " handoff", color="red", va="top"
            )
        devices = " → ".join(device_label(s).split(" (")[0] for s in ledger.get("sessions", []))
        axis.set_title(f"{run['label']}: {devices}", fontsize=9)
        axis.set_xlabel("optimizer step")
        axis.set_ylabel("loss")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_audit_by_class(summary: dict[str, Any], path: Path) -> None:
    """Training-data error rate by error class, with its Wilson 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_class = summary.get("by_error_class") or {}
    names = sorted(by_class)
    rates = [by_class[n].get("rate") or 0.0 for n in names]
    bands = [by_class[n].get("wilson_ci") or [r, r] for n, r in zip(names, rates, strict=True)]
    errors = [
        [r - b[0] for r, b in zip(rates, bands, strict=True)],
        [b[1] - r for r, b in zip(rates, bands, strict=True)],
    ]
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.bar(names, rates, yerr=errors, capsize=4, color="#c05050")
    axis.set_ylabel("share of audited examples")
    axis.set_title("training-data audit: flagged examples by error class (95% CI)")
    axis.tick_params(axis="x", rotation=20)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def sizes_table(profile: DemoProfile) -> list[dict[str, Any]]:
    """The sizes used beside the production defaults, for the report."""
    production = GPU.to_dict()
    return [
        {"setting": key, "this run": value, "production": production[key]}
        for key, value in profile.to_dict().items()
        if key not in ("name",)
    ]


def findings(data: dict[str, Any]) -> dict[str, Any]:
    """The paper's two findings as this run measured them."""
    evaluation = data["evaluation"]["report"]
    names = data["names"]
    return {
        "a_fidelity": {
            name: fidelity_finding(evaluation, name) for name in (names["ungated"], names["gated"])
        },
        "b_ungated_vs_gated": gating_finding(evaluation, names["ungated"], names["gated"]),
    }


def headline(data: dict[str, Any]) -> dict[str, Any]:
    """The figures a reader checks first, at the top of report.json: the evaluator's headline
    (judge_unparseable_rate, judge_position_consistency, fidelity_delta, truncated_rate,
    contradicted_per_answer, verdict …), the contrast of the two fine-tunes as
    `contradicted_delta_ungated_minus_gated` and the demo's own wall time."""
    evaluation = data["evaluation"]["report"].get("headline") or {}
    names = data["names"]
    contrast = (evaluation.get("contrasts") or {}).get(f"{names['ungated']} − {names['gated']}")
    return evaluation | {
        "contradicted_delta_ungated_minus_gated": (contrast or {}).get("contradicted_delta"),
        "demo_seconds": data["timings"].get("total"),
    }


def copy_evaluation_figures(evaluation_dir: Path, out: Path) -> list[str]:
    """The evaluator's figures the report links, copied next to it; the names copied."""
    copied = []
    for name in EVALUATION_FIGURES:
        source = Path(evaluation_dir) / name
        if source.is_file():
            shutil.copyfile(source, out / name)
            copied.append(name)
    return copied


def write_report(out: Path, data: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """Write report.json, report.md and the figures into `out`; return the table rows."""
    out.mkdir(parents=True, exist_ok=True)
    rows = paper_table(data["evaluation"]["report"], labels)
    data["headline"] = headline(data)
    data["findings"] = findings(data)
    data["paper_table"] = rows
    plot_loss_across_handoff(data["training"], out / "loss_across_handoff.png")
    plot_audit_by_class(data["audit"]["summary"], out / "audit_by_class.png")
    figures = copy_evaluation_figures(Path(data["evaluation"]["dir"]), out)
    first = {"headline": data["headline"]}  # at the top of the file, where a reader looks first
    (out / "report.json").write_text(json.dumps(first | data, indent=2, default=str))
    (out / "report.md").write_text(render_markdown(data, rows, labels, figures))
    return {"rows": rows}
