"""The demo's report built from a real evaluator report (fake endpoints and auditor): the
headline's figures, the two findings in words, prose with no raw JSON, figure links that work."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from evaluator_fakes import JUDGE, FakeEndpoint, consistent_logprob_judge, counting_auditor

from advisor_demo.profile import EMBEDDED
from advisor_demo.report import sizes_table, write_report
from advisor_evaluator.jobs.orchestration import advance_job
from advisor_evaluator.jobs.submission import create_evaluation
from advisor_evaluator.jobs.units import audit_unit, execute_unit
from advisor_evaluator.schemas import EvaluationCreate

pytestmark = pytest.mark.unit
UNGATED, GATED = "demo-ungated-1", "demo-gated-1"
LABELS = {"base": "base", "fine-tuned": UNGATED, "fine-tuned (gated data)": GATED}


def evaluate(make_runtime, tmp_path) -> tuple[dict, object]:
    """A finished evaluation of base and two fine-tunes: the ungated one states one more
    contradicted claim than the gated one on every prompt."""
    answers = {
        "base": lambda p: "RIGHT. Please check the official page, the correct rules change.",
        UNGATED: lambda p: f"RIGHT and WRONG and WRONG: {p}",
        GATED: lambda p: f"RIGHT and WRONG: {p}",
    }
    runtime = make_runtime(
        FakeEndpoint(answers, judge_logprobs=consistent_logprob_judge, judge=lambda m: "{}"),
        auditor_url="http://auditor:8002",
        auditor_poll_interval_s=0.01,
    )
    items = [
        {
            "id": f"test-{i:04d}",
            "prompt": f"What does visa {i} cost in Norvania{'?' * i}",
            "reference": f"Visa {i} costs EUR 180: {i}.",
        }
        for i in range(1, 9)
    ]
    spec = {
        "dataset": {"items": items},
        "candidates": list(LABELS.values()),
        "baseline": "base",
        "metrics": ["rouge_l", "judge", "factuality"],
        "judge": {"model": JUDGE},
        "contrasts": [[UNGATED, GATED]],
    }
    record, _ = create_evaluation(
        runtime, EvaluationCreate.model_validate(spec), None, lambda _: None
    )
    results, seen = runtime.results(record.id), []
    while (step := advance_job(runtime, record.id)).action == "dispatch":
        for unit in step.units:
            if unit.stage == "factuality":
                audit_unit(
                    runtime,
                    results.get("plan.json"),
                    results,
                    unit,
                    transport=httpx.MockTransport(counting_auditor(seen)),
                )
            else:
                execute_unit(runtime, record.id, unit)
    report = json.loads(results.get_artifact("report.json"))
    folder = tmp_path / "eval"
    folder.mkdir()
    for name in report["plots"]:
        (folder / name).write_bytes(results.get_artifact(name))
    return report, folder


def training_run(label: str, adapter: str) -> dict:
    session = {
        "device_name": "cpu",
        "dtype": "float32",
        "backend": "cpu-lora",
        "wall_time_s": 30.0,
        "simulated_device": {"name": "Tesla P100", "profile": "p100"},
    }
    return {
        "label": label,
        "adapter": adapter,
        "reused": False,
        "dataset": "x.jsonl",
        "ledger": {
            "loss_history": [{"step": s, "loss": 3.0 - s / 10} for s in range(1, 9)],
            "eval_history": [{"step": 8, "eval_loss": 2.5}],
            "sessions": [
                session
                | {"index": 1, "first_step": 0, "steps": 3, "stop_reason": "session budget"},
                session | {"index": 2, "first_step": 3, "steps": 5, "stop_reason": "finished"},
            ],
        },
    }


def audit_summary() -> dict:
    rate = {"count": 48, "n": 160, "rate": 0.3, "wilson_ci": [0.234, 0.375]}
    return {
        "items_audited": 160,
        "claims": 1500,
        "error_rate": rate,
        "by_error_class": {
            "number": {"count": 10, "n": 160, "rate": 0.0625, "wilson_ci": [0.034, 0.111]}
        },
        "gate": {"kept": 112, "quarantined": 48},
    }


def test_the_demo_report_gives_the_headline_findings_and_prose(make_runtime, tmp_path) -> None:
    evaluation, folder = evaluate(make_runtime, tmp_path)
    data = {
        "profile": EMBEDDED.to_dict(),
        "sizes": sizes_table(EMBEDDED),
        "audit": {"summary": audit_summary()},
        "training": [
            training_run("fine-tuned", UNGATED),
            training_run("fine-tuned (gated data)", GATED),
        ],
        "evaluation": {"dir": str(folder), "report": evaluation},
        "names": {"ungated": UNGATED, "gated": GATED},
        "timings": {"audit the training data and gate it": 17.0, "total": 412.5},
    }
    out = tmp_path / "out"
    write_report(out, data, LABELS)
    report = json.loads((out / "report.json").read_text())
    headline = report["headline"]
    assert next(iter(report)) == "headline"
    assert headline["contradicted_delta_ungated_minus_gated"] == [1.0, 1.0, 1.0]
    assert headline["demo_seconds"] == 412.5
    assert set(headline["verdict"]) == {UNGATED, GATED}
    assert headline["contradicted_per_answer"][UNGATED][1] == 2.0
    assert report["findings"]["b_ungated_vs_gated"]["status"] == "shown"
    markdown = (out / "report.md").read_text()
    assert "shown: Δ contradicted claims per answer (ungated − gated) +1.00 [+1.00, +1.00]" in (
        markdown
    )
    assert "(a) The fine-tune moves toward its references." in markdown
    assert "not measured" in markdown  # no BERTScore was asked for: finding (a) says so
    assert "```" not in markdown and "{" not in markdown.split("## The most telling prompts")[0]
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert "three_axes.png" in links and "loss_across_handoff.png" in links
    assert all((out / link).is_file() for link in links)
    assert "| number | 10/160 | 6.2% [3.4%, 11.1%] |" in markdown
    assert "**test-0001.**" in markdown  # a telling prompt, side by side
    assert "chosen on these prompts" in markdown  # the embedded profile's findings are its own

    reduced = EMBEDDED.with_overrides(train_steps=8)
    write_report(out, data | {"profile": reduced.to_dict()}, LABELS)
    assert "chosen on these prompts" not in (out / "report.md").read_text()


def test_a_finding_not_shown_names_its_effect_ci_and_mde() -> None:
    from advisor_demo.findings import gating_finding

    estimate = {"value": 0.1, "low": -0.2, "high": 0.4, "n": 22, "sd": 0.7, "mde": 0.42}
    evaluation = {
        "contrasts": [{"a": "u", "b": "g", "correctness": {"contradicted_delta": estimate}}]
    }
    finding = gating_finding(evaluation, "u", "g")
    assert finding["status"] == "not shown"
    assert finding["text"] == (
        "not shown: Δ contradicted claims per answer (ungated − gated) +0.10 [-0.20, +0.40]; the "
        "CI covers 0; with n = 22 prompts only a difference of 0.42 claims per answer or more "
        "would show (the minimum detectable effect at 80 % power)"
    )
