"""`advisor demo`, reduced, through the real services: the report exists, its table is the
evaluator's figures, both fine-tunes handed off between two processes, and a second run reuses
everything instead of storing it again."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CACHE_DIR, REPO

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]
# A 30 s first session (model load included) always ends after one to a few of the 8 steps.
REDUCED = ["--steps", "8", "--prompts", "2", "--new-tokens", "16", "--first-session-budget", "30"]


def run_demo(out: Path, work: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from advisor_shared.cli import main; main()",
            "demo",
            "--out",
            str(out),
            "--work",
            str(work),
            *REDUCED,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1400,
        env={**__import__("os").environ, "ADVISOR_CACHE_DIR": str(CACHE_DIR), "COLUMNS": "200"},
    )
    return result, time.monotonic() - started


def bundle_files(work: Path) -> list[str]:
    return sorted(
        str(p.relative_to(work)) for p in (work / "store" / "adapters").rglob("*") if p.is_file()
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory, embedded_model_dir: Path):
    root = tmp_path_factory.mktemp("demo")
    out, work = root / "out", root / "work"
    result, seconds = run_demo(out, work)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(f"reduced demo took {seconds:.0f} s")
    return out, work, result.stdout


def test_report_is_written_with_plots(demo_run) -> None:
    out, _, stdout = demo_run
    for name in (
        "report.md",
        "report.json",
        "loss_across_handoff.png",
        "audit_by_class.png",
        "three_axes.png",
    ):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert "the paper's table" in stdout
    assert "verdict:" in stdout


def test_the_report_reads_as_prose_with_working_figure_links(demo_run) -> None:
    """No raw JSON in report.md, and every figure it links lies next to it."""
    out, _, _ = demo_run
    markdown = (out / "report.md").read_text()
    assert "```" not in markdown and not re.search(r'^\s*"\w+": ', markdown, re.MULTILINE)
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert {"three_axes.png", "loss_across_handoff.png", "audit_by_class.png"} <= set(links)
    assert all((out / link).is_file() for link in links), links
    for heading in (
        "## Verdict",
        "## The paper's two findings",
        "## Results",
        "## The training data: audit and gate",
    ):
        assert heading in markdown


def test_table_cells_are_the_evaluators_figures(demo_run) -> None:
    out, _, _ = demo_run
    report = json.loads((out / "report.json").read_text())
    evaluation = report["evaluation"]["report"]
    by_name = {c["name"]: c for c in evaluation["candidates"]}
    rows = {row["metric"]: row for row in report["paper_table"]}
    bert = rows["BERTScore F1 vs references"]
    for label, name in (
        ("base", "base"),
        ("fine-tuned", report["names"]["ungated"]),
        ("fine-tuned (gated data)", report["names"]["gated"]),
    ):
        assert bert[label].startswith(f"{by_name[name]['bertscore_f1']['value']:.3f}")
        contradicted = by_name[name]["correctness"]["contradicted_per_answer"]["value"]
        assert rows["contradicted claims per answer (auditor)"][label].startswith(
            f"{contradicted:.2f}"
        )
    markdown = (out / "report.md").read_text()
    assert bert["fine-tuned"] in markdown
    assert all(verdict in markdown for verdict in evaluation["verdicts"])


def test_the_headline_has_its_figures_and_the_judge_decides(demo_run) -> None:
    """Shape, not values: the study's sizes decide the figures; the judge, read from its token
    probabilities, must give a verdict for at least 95% of its replies."""
    out, _, _ = demo_run
    report = json.loads((out / "report.json").read_text())
    assert next(iter(report)) == "headline"
    headline = report["headline"]
    challengers = {report["names"]["ungated"], report["names"]["gated"]}
    assert 0.0 <= headline["judge_unparseable_rate"] <= 0.05
    consistency = headline["judge_position_consistency"]
    assert consistency is None or 0.0 <= consistency <= 1.0
    assert set(headline["fidelity_delta"]) == challengers
    for low, point, high in headline["fidelity_delta"].values():
        assert low <= point <= high
    assert set(headline["truncated_rate"]) == challengers | {"base"}
    assert all(0.0 <= rate <= 1.0 for rate in headline["truncated_rate"].values())
    assert set(headline["contradicted_per_answer"]) == challengers | {"base"}
    for low, point, high in headline["contradicted_per_answer"].values():
        assert 0.0 <= low <= point <= high
    low, point, high = headline["contradicted_delta_ungated_minus_gated"]
    assert low <= point <= high
    assert headline["demo_seconds"] > 0
    assert set(headline["verdict"]) == challengers
    assert all(name in text for name, text in headline["verdict"].items())
    assert report["evaluation"]["report"]["judge_bias"]["methods"] == {"logprobs": 8}


def test_each_fine_tune_handed_off_between_two_simulated_cards(demo_run) -> None:
    out, _, _ = demo_run
    report = json.loads((out / "report.json").read_text())
    assert [run["label"] for run in report["training"]] == ["fine-tuned", "fine-tuned (gated data)"]
    for run in report["training"]:
        ledger = run["ledger"]
        first, second = ledger["sessions"]
        assert first["stop_reason"] == "session budget"
        assert second["first_step"] == first["first_step"] + first["steps"]
        assert ledger["global_step"] == ledger["total_steps"] == 8
        assert [s["simulated_device"]["profile"] for s in (first, second)] == ["p100", "t4"]
    gated = report["training"][1]["dataset"]
    assert Path(gated).name == "clean.jsonl"
    assert report["audit"]["summary"]["gate"]["kept"] < 160


def test_a_second_run_reuses_adapters_and_results(demo_run) -> None:
    out, work, _ = demo_run
    before = bundle_files(work)
    result, seconds = run_demo(out, work)
    assert result.returncode == 0, result.stdout[-3000:]
    assert bundle_files(work) == before
    report = json.loads((out / "report.json").read_text())
    assert all(run["reused"] for run in report["training"])
    assert report["evaluation"]["reused"] and report["audit"]["reused"]
    print(f"second run took {seconds:.0f} s")
