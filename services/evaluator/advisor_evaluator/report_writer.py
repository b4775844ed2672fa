"""Write the report files into the job's results: plots, Markdown, then the JSON last.

`report.json` is the commit marker of a report (like a bundle's manifest): a report without it
was interrupted and is rebuilt, so nothing partial is ever linked as complete.
"""

from __future__ import annotations

import json
from typing import Any

from .jobs.results import REPORT_JSON, REPORT_MARKDOWN, JobResults
from .report_builder import build_report
from .report_markdown import render_markdown
from .report_plots import render_plots


def write_report(job_id: str, plan: dict[str, Any], results: JobResults) -> dict[str, Any]:
    """Build and store the report; return it."""
    report = build_report(job_id, plan, results)
    plots = render_plots(report)
    for name, data in plots.items():
        results.put_artifact(name, data)
    report["plots"] = sorted(plots)
    results.put_artifact(REPORT_MARKDOWN, render_markdown(report, sorted(plots)).encode("utf-8"))
    results.put_artifact(
        REPORT_JSON, json.dumps(report, indent=1, ensure_ascii=False).encode("utf-8")
    )
    return report


def read_report(results: JobResults) -> dict[str, Any] | None:
    """The committed report, or None."""
    try:
        return json.loads(results.get_artifact(REPORT_JSON))
    except Exception:  # noqa: BLE001 - missing or unreadable both mean "no report"
        return None
