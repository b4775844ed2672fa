"""PNG plots of the report (matplotlib, Agg backend: no display, safe in workers).

Figures are built with the object API (`Figure`), never `pyplot`, whose global state is not
thread-safe: worker threads may write two reports at once.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (the backend must be chosen first)


def _figure(
    rows: int = 1, cols: int = 1, figsize: tuple[float, float] = (7, 3)
) -> tuple[Figure, Any]:
    figure = Figure(figsize=figsize)
    return figure, figure.subplots(rows, cols, squeeze=False)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def _error(estimate: dict[str, Any]) -> tuple[float, float]:
    return estimate["value"] - estimate["low"], estimate["high"] - estimate["value"]


def plot_deltas(report: dict[str, Any]) -> bytes | None:
    """Fidelity vs quality: every challenger−baseline delta with its 95% CI, on one axis each."""
    rows: list[tuple[str, dict[str, Any]]] = []
    for comp in report["comparisons"]:
        judge = comp.get("judge") or {}
        for label, estimate in (
            ("Δ BERTScore F1", comp.get("bertscore_f1_delta")),
            ("Δ ROUGE-L", comp.get("rouge_l_delta")),
            ("net judge preference", judge.get("net_preference")),
            ("Δ domain accuracy (0-3)", (judge.get("domain_accuracy") or {}).get("delta")),
            ("Δ helpfulness (0-3)", (judge.get("helpfulness") or {}).get("delta")),
        ):
            if estimate and estimate.get("value") is not None:
                rows.append((f"{comp['challenger']}: {label}", estimate))
    if not rows:
        return None
    figure, axes = _figure(len(rows), 1, figsize=(7, 0.9 * len(rows) + 0.8))
    for axis, (label, estimate) in zip(axes[:, 0], rows, strict=True):
        colour = (
            "tab:green"
            if estimate["low"] > 0
            else "tab:red"
            if estimate["high"] < 0
            else "tab:gray"
        )
        low_err, high_err = _error(estimate)
        axis.errorbar(
            [estimate["value"]], [0], xerr=[[low_err], [high_err]], fmt="o", color=colour, capsize=5
        )
        axis.axvline(0, color="black", linewidth=0.8)
        span = max(abs(estimate["low"]), abs(estimate["high"]), 1e-6) * 1.3
        axis.set_xlim(-span, span)
        axis.set_yticks([])
        axis.set_title(label, fontsize=9, loc="left")
    figure.suptitle("Differences from the baseline (95% CI)", fontsize=10)
    return _png(figure)


def plot_reference_metrics(report: dict[str, Any]) -> bytes | None:
    """Mean BERTScore F1 and ROUGE-L per candidate, with bootstrap CIs."""
    panels = [
        (m, t)
        for m, t in (("bertscore_f1", "BERTScore F1"), ("rouge_l", "ROUGE-L F1"))
        if any(c[m] for c in report["candidates"])
    ]
    if not panels:
        return None
    figure, axes = _figure(1, len(panels), figsize=(5 * len(panels), 3.2))
    for axis, (metric, title) in zip(axes[0], panels, strict=True):
        names = [c["name"] for c in report["candidates"] if c[metric]]
        estimates = [c[metric] for c in report["candidates"] if c[metric]]
        errors = list(zip(*[_error(e) for e in estimates], strict=True))
        axis.bar(names, [e["value"] for e in estimates], yerr=errors, capsize=5, color="tab:blue")
        axis.set_title(title)
        axis.tick_params(axis="x", labelrotation=15)
    return _png(figure)


def plot_judge_preference(report: dict[str, Any]) -> bytes | None:
    """Win / tie / loss / unparseable shares per comparison (pairs judged in both orders)."""
    rows = [
        (c["challenger"], c["judge"])
        for c in report["comparisons"]
        if c.get("judge") and c["judge"]["pairs"]
    ]
    if not rows:
        return None
    figure, axes = _figure(figsize=(7, 0.7 * len(rows) + 1.4))
    axis = axes[0, 0]
    colours = {
        "win": "tab:green",
        "tie": "tab:gray",
        "loss": "tab:red",
        "unparseable": "tab:orange",
    }
    for row, (_name, judge) in enumerate(rows):
        left = 0.0
        for outcome, colour in colours.items():
            share = judge[outcome] / judge["pairs"]
            axis.barh(row, share, left=left, color=colour, label=outcome if row == 0 else None)
            left += share
    axis.set_yticks(range(len(rows)), [f"{name} vs {report['baseline']}" for name, _ in rows])
    axis.set_xlim(0, 1)
    axis.set_xlabel("share of items (challenger's view)")
    axis.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.35))
    return _png(figure)


def plot_judge_bias(report: dict[str, Any]) -> bytes | None:
    """The judge's bias panel: each rate with its CI against the value of an unbiased judge."""
    bias = report.get("judge_bias")
    if not bias:
        return None
    figures = [
        ("position consistency", bias["position_consistency"], 1.0),
        ("first-slot win rate", bias["first_slot_win_rate"], 0.5),
        ("longer answer wins", bias["longer_answer_win_rate"], 0.5),
    ]
    figure, axes = _figure(figsize=(7, 2.8))
    axis = axes[0, 0]
    for row, (_label, estimate, ideal) in enumerate(figures):
        axis.plot([ideal], [row], marker="|", markersize=18, color="black")
        if estimate.get("value") is not None:
            low_err, high_err = _error(estimate)
            axis.errorbar(
                [estimate["value"]],
                [row],
                xerr=[[low_err], [high_err]],
                fmt="o",
                color="tab:purple",
                capsize=5,
            )
    axis.set_yticks(range(len(figures)), [f[0] for f in figures])
    axis.set_xlim(-0.02, 1.02)
    correlation = bias["length_win_correlation"]
    axis.set_title(
        f"Judge bias (| = unbiased); win-length correlation "
        f"{'n/a' if correlation is None else f'{correlation:+.2f}'}",
        fontsize=10,
    )
    return _png(figure)


AXIS_TITLES = {
    "correctness": "correctness: Δ contradicted claims per answer (lower is better)",
    "preference": "preference: the judge, both orders (higher is preferred)",
    "fidelity": "fidelity: Δ BERTScore F1 vs references (higher is closer)",
}
OUTCOME_COLOURS = {"better": "tab:green", "worse": "tab:red"}


def plot_three_axes(report: dict[str, Any]) -> bytes | None:
    """The verdict's three axes, one panel each: every comparison's paired difference with its
    95% CI (green better, red worse, grey neither), its minimum detectable effect as a band
    around 0, and the difference that matters as dotted lines; contrasts between candidates
    in black where the axis has them."""
    panels: dict[str, list[tuple[str, dict[str, Any], str, float | None, float]]] = {
        axis: [] for axis in AXIS_TITLES
    }
    for comp in report["comparisons"]:
        for axis, reading in ((comp.get("verdict_axes") or {}).get("axes") or {}).items():
            estimate = reading.get("estimate")
            if estimate and estimate.get("low") is not None:
                colour = OUTCOME_COLOURS.get(reading["outcome"], "tab:gray")
                panels[axis].append(
                    (
                        f"{comp['challenger']} − {comp['baseline']}",
                        estimate,
                        colour,
                        reading.get("mde"),
                        reading["relevant"],
                    )
                )
    for contrast in report.get("contrasts") or []:
        label = f"{contrast['a']} − {contrast['b']}"
        contradicted = (contrast.get("correctness") or {}).get("contradicted_delta")
        for axis, estimate in (
            ("correctness", contradicted),
            ("fidelity", contrast.get("bertscore_f1_delta")),
        ):
            if estimate and estimate.get("low") is not None:
                panels[axis].append((label, estimate, "black", estimate.get("mde"), 0.0))
    shown = [(axis, rows) for axis, rows in panels.items() if rows]
    if not shown:
        return None
    heights = [len(rows) + 1.2 for _, rows in shown]
    figure = Figure(figsize=(8, 0.45 * sum(heights) + 0.6))
    axes = figure.subplots(len(shown), 1, squeeze=False, gridspec_kw={"height_ratios": heights})
    for axis_plot, (axis, rows) in zip(axes[:, 0], shown, strict=True):
        span = 1e-6
        for row, (_label, estimate, colour, mde, relevant) in enumerate(rows):
            low_err, high_err = _error(estimate)
            axis_plot.errorbar(
                [estimate["value"]],
                [row],
                xerr=[[low_err], [high_err]],
                fmt="o",
                color=colour,
                capsize=4,
            )
            if mde:
                axis_plot.fill_between(
                    [-mde, mde], row - 0.3, row + 0.3, color="tab:blue", alpha=0.12, linewidth=0
                )
            span = max(span, abs(estimate["low"]), abs(estimate["high"]), mde or 0, relevant)
        relevant = max(r[4] for r in rows)
        if relevant:
            for x in (-relevant, relevant):
                axis_plot.axvline(x, color="black", linestyle=":", linewidth=0.8)
        axis_plot.axvline(0, color="black", linewidth=0.8)
        axis_plot.set_xlim(-span * 1.2, span * 1.2)
        axis_plot.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
        axis_plot.set_ylim(-0.7, len(rows) - 0.3)
        axis_plot.invert_yaxis()
        axis_plot.set_title(AXIS_TITLES[axis], fontsize=9, loc="left")
    figure.suptitle(
        "The three axes (95% CI; blue band: MDE at 80% power; dotted: what matters)", fontsize=10
    )
    return _png(figure)


PLOTS = {
    "three_axes.png": plot_three_axes,
    "deltas.png": plot_deltas,
    "reference_metrics.png": plot_reference_metrics,
    "judge_preference.png": plot_judge_preference,
    "judge_bias.png": plot_judge_bias,
}


def render_plots(report: dict[str, Any]) -> dict[str, bytes]:
    """Every plot that has data, by file name."""
    rendered = {name: plot(report) for name, plot in PLOTS.items()}
    return {name: data for name, data in rendered.items() if data is not None}
