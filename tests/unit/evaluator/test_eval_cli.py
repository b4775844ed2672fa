"""`advisor eval --config FILE`: the same job, run in-process, report files written to --out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from evaluator_fakes import JUDGE, FakeEndpoint, consistent_judge, consistent_logprob_judge
from typer.testing import CliRunner

from advisor_evaluator import cli
from advisor_shared.cli import build_app

pytestmark = pytest.mark.unit
SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"


def test_eval_runs_the_job_and_writes_the_report(make_runtime, monkeypatch, tmp_path) -> None:
    endpoint = FakeEndpoint(
        {"base": lambda p: f"correct, with a caveat: {p}", "tuned": lambda p: f"sure: {p}"},
        consistent_judge,
        judge_logprobs=consistent_logprob_judge,
    )
    runtime = make_runtime(endpoint, inprocess_concurrency=4)  # the thread pool, as shipped
    monkeypatch.setattr(cli, "build_runtime", lambda settings: runtime)
    config = tmp_path / "eval.yaml"
    config.write_text(
        f"dataset: {{path: {SAMPLE / 'test.jsonl'}}}\n"
        f"training_dataset_path: {SAMPLE / 'train.jsonl'}\n"
        "sample: {size: 4, seed: 42}\n"
        "candidates: [base, tuned]\n"
        "metrics: [rouge_l, judge]\n"
        f"judge: {{model: {JUDGE}}}\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(build_app(), ["eval", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["items"] == 4 and report["hygiene"]["training_overlap"]["measured"]
    assert (out / "report.md").read_text().startswith("# Evaluation report")
    assert sorted(p.name for p in out.glob("*.png")) == sorted(report["plots"])
    assert "decided by preference: the judge prefers the baseline" in report["verdicts"][0]
    assert report["verdicts"][0] in " ".join(result.output.split())  # printed (wrapped by rich)
    assert endpoint.calls == {"base": 4, "tuned": 4, JUDGE: 8}


def test_eval_refuses_an_unknown_model_with_exit_code_2(
    make_runtime, monkeypatch, tmp_path
) -> None:
    runtime = make_runtime(FakeEndpoint({"base": str}))
    monkeypatch.setattr(cli, "build_runtime", lambda settings: runtime)
    config = tmp_path / "eval.json"
    config.write_text(
        json.dumps(
            {
                "dataset": {"items": [{"prompt": "q?", "reference": "a"}]},
                "candidates": ["base", "ghost"],
                "metrics": ["rouge_l"],
            }
        )
    )
    result = CliRunner().invoke(build_app(), ["eval", "--config", str(config)])
    assert result.exit_code == 2
    assert "unknown_model" in result.output and "'ghost'" in result.output
