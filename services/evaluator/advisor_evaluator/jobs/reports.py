"""The report of a job: built from its stored results, written into them, read back.

The report files are written plots first, then the Markdown, then `report.json` last: that
file is the commit marker of a report (like a bundle's manifest), so a report without it was
interrupted and is rebuilt, and nothing partial is ever linked as complete.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from ..reporting.builder import StoredResults, build_report
from ..reporting.markdown import render_markdown
from ..reporting.plots import render_plots
from .results import REPORT_JSON, REPORT_MARKDOWN, JobResults


def _load(results: JobResults, folder: str) -> dict[str, dict[str, Any]]:
    """Stored records of a folder by their relative key."""
    return {key: results.get(key) for key in results.list(folder)}


def load_stored(results: JobResults) -> StoredResults:
    """Every unit result of the job, indexed by candidate and item (keys as in `results`)."""
    generations: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    scores: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    judgements: dict[str, dict[str, dict[str, dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    factuality: dict[str, dict[str, Any]] = {}
    for key, record in _load(results, "generations/").items():
        _, candidate, item = key.removesuffix(".json").split("/")
        generations[candidate][item] = record
    for key, record in _load(results, "scores/").items():
        candidate = key.split("/")[1]
        scores[candidate].update(record["items"])
    for key, record in _load(results, "judgements/").items():
        _, candidate, item, order = key.removesuffix(".json").split("/")
        judgements[candidate][item][order] = record
    for key, record in _load(results, "factuality/").items():
        factuality[key.removeprefix("factuality/").removesuffix(".json")] = record
    return StoredResults(generations, scores, judgements, factuality)


def write_report(job_id: str, plan: dict[str, Any], results: JobResults) -> dict[str, Any]:
    """Build and store the report; return it."""
    report = build_report(job_id, plan, load_stored(results))
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
