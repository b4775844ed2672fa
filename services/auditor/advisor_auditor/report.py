"""Write an audit's outputs: findings JSONL, summary JSON and a Markdown report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conversation_audit import ItemAudit


def findings_jsonl(audits: list[ItemAudit]) -> str:
    """One finding per line, in item order."""
    return "".join(f.model_dump_json() + "\n" for a in audits for f in a.findings)


def _pct(rate: dict[str, Any]) -> str:
    low, high = rate["wilson_ci"]
    value = "n/a" if rate["rate"] is None else f"{100 * rate['rate']:.1f}%"
    return f"{rate['count']}/{rate['n']} = {value} (95% CI {100 * low:.1f}–{100 * high:.1f}%)"


def markdown_report(summary: dict[str, Any], audits: list[ItemAudit], *, title: str) -> str:
    """A human-readable report: headline rates, breakdowns, then each error with its source."""
    lines = [
        f"# {title}",
        "",
        f"Audited {summary['items_audited']} of {summary['population']} items; "
        f"{summary['claims']} claims checked against the sources.",
        "",
        f"- Items with a contradicted claim: {_pct(summary['error_rate'])}",
        f"- Items with a confident (unhedged) error: {_pct(summary['confident_error_rate'])}",
        "- Verdicts: " + ", ".join(f"{k} {v}" for k, v in summary["verdicts"].items()),
        "",
        "## By error class",
        "",
        "| class | items | rate (95% CI) |",
        "|---|---|---|",
    ]
    for name, rate in summary["by_error_class"].items():
        lines.append(f"| {name} | {rate['count']} | {_pct(rate)} |")
    lines += ["", "## By topic", "", "| topic | rate (95% CI) |", "|---|---|"]
    for topic, rate in summary["by_topic"].items():
        lines.append(f"| {topic} | {_pct(rate)} |")
    lines += ["", "## Errors", ""]
    for audit in audits:
        for finding in audit.errors:
            evidence = finding.evidence[0]
            check = next((c for c in finding.checks if c.verdict == finding.verdict), None)
            lines += [
                f"- **{audit.item_id}** turn {finding.turn} ({finding.error_class}"
                f"{', hedged' if finding.hedged else ', confident'}): {finding.claim}",
                f"  - source `{evidence.doc_path}` [{evidence.start}:{evidence.end}]: "
                f"“{evidence.quote}”",
            ]
            if check is not None and check.reason:
                lines.append(f"  - {check.reason}")
    if not any(a.errors for a in audits):
        lines.append("No contradicted claims.")
    return "\n".join(lines) + "\n"


def write_outputs(
    out_dir: Path, audits: list[ItemAudit], summary: dict[str, Any], *, title: str, prefix: str
) -> dict[str, Path]:
    """Write `<prefix>findings.jsonl`, `<prefix>summary.json`, `<prefix>report.md`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "findings": out_dir / f"{prefix}findings.jsonl",
        "summary": out_dir / f"{prefix}summary.json",
        "report": out_dir / f"{prefix}report.md",
    }
    paths["findings"].write_text(findings_jsonl(audits), encoding="utf-8")
    paths["summary"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    paths["report"].write_text(markdown_report(summary, audits, title=title), encoding="utf-8")
    return paths
