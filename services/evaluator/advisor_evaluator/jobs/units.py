"""Run one work unit, or record why it cannot succeed. Each runner reads what its unit needs
from the job's results, calls the domain function with plain values and writes the one record
it returns (write-once: a stored result is never replaced). No queue code here: the Celery tasks
call these functions and own retries and leases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from ..generation.answers import generate_answer
from ..judging.judge import judge_pair
from ..judging.pairwise import Order, slot_texts
from ..scoring.factuality import AuditorClient, answers_jsonl, audit_outcome
from ..scoring.reference import reference_scores
from .pipeline import WorkUnit, chunk_items, plan_candidate, plan_item
from .results import JobResults, failure_key, generation_key
from .runtime import Runtime
from .submission import JOB_KIND

MAX_REASON = 500


def generate_unit(
    runtime: Runtime, plan: dict[str, Any], results: JobResults, unit: WorkUnit
) -> None:
    """Generate and store `unit`'s answer (write-once: a stored answer is never replaced)."""
    item = plan_item(plan, str(unit.item))
    candidate = plan_candidate(plan, unit.candidate)
    answer = generate_answer(
        runtime.inference(), candidate["name"], item["prompt"], plan["generation"]
    )
    results.put_once(
        unit.result_key, {"candidate": candidate["name"], "item": item["key"], **answer}
    )


def judge_unit(runtime: Runtime, plan: dict[str, Any], results: JobResults, unit: WorkUnit) -> None:
    """Ask the judge about the stored answers of `unit`'s pair in its order; store the verdict
    with the reply (an unparseable reply is a result too)."""
    item = plan_item(plan, str(unit.item))
    order: Order = "ab" if unit.order == "ab" else "ba"
    challenger = results.get(generation_key(unit.candidate, str(unit.item)))["text"]
    baseline = results.get(generation_key(plan["baseline"], str(unit.item)))["text"]
    response_a, response_b = slot_texts(order, challenger, baseline)
    judge = plan["judge"]
    endpoint = runtime.judge(judge.get("endpoint"))
    judgement = judge_pair(endpoint, judge, item["prompt"], response_a, response_b)
    results.put_once(
        unit.result_key,
        {
            "candidate": unit.candidate,
            "baseline": plan["baseline"],
            "item": item["key"],
            "order": order,
            "length_a": len(response_a),
            "length_b": len(response_b),
            **judgement,
        },
    )


def score_unit(runtime: Runtime, plan: dict[str, Any], results: JobResults, unit: WorkUnit) -> None:
    """Score a chunk of stored answers against their references and store the figures."""
    items = chunk_items(plan, str(unit.item))
    answers = [results.get(generation_key(unit.candidate, item["key"]))["text"] for item in items]
    references = [item["reference"] or "" for item in items]
    figures = reference_scores(answers, references, plan["metrics"], plan["bertscore"])
    records = {item["key"]: record for item, record in zip(items, figures, strict=True)}
    results.put_once(unit.result_key, {"candidate": unit.candidate, "items": records})


def audit_unit(
    runtime: Runtime,
    plan: dict[str, Any],
    results: JobResults,
    unit: WorkUnit,
    transport: httpx.BaseTransport | None = None,
) -> None:
    """Audit one candidate's stored answers through the auditor and store the outcome; a cancel
    request of the evaluation stops the wait."""
    settings = runtime.settings
    assert settings.auditor_url is not None
    key = settings.auditor_api_key.get_secret_value() if settings.auditor_api_key else None
    client = AuditorClient(settings.auditor_url, key, settings.auditor_timeout_s, transport)
    answers = [
        results.get(generation_key(unit.candidate, item["key"]))["text"] for item in plan["items"]
    ]
    job = client.audit(
        answers_jsonl(plan["items"], answers),
        idempotency_key=f"{results.job_id}-{unit.candidate}",
        poll_interval_s=settings.auditor_poll_interval_s,
        should_stop=lambda: runtime.jobs.cancel_requested(JOB_KIND, results.job_id),
    )
    candidate = plan_candidate(plan, unit.candidate)
    results.put_once(
        unit.result_key, {"candidate": candidate["name"], **audit_outcome(job, plan["items"])}
    )


RUNNERS: dict[str, Callable[[Runtime, dict[str, Any], JobResults, WorkUnit], None]] = {
    "generate": generate_unit,
    "score": score_unit,
    "judge": judge_unit,
    "factuality": audit_unit,
}


def unit_finished(results: JobResults, unit: WorkUnit) -> bool:
    """Stored already (a result or a recorded failure): running it again would duplicate."""
    return results.exists(unit.result_key) or results.exists(failure_key(unit.name))


def execute_unit(runtime: Runtime, job_id: str, unit: WorkUnit) -> None:
    """Run `unit` against the job's plan and store its result."""
    results = runtime.results(job_id)
    RUNNERS[unit.stage](runtime, results.get("plan.json"), results, unit)


def record_failure(runtime: Runtime, job_id: str, unit: WorkUnit, reason: str) -> None:
    """Store why `unit` cannot succeed; the next step fails the job with this reason."""
    runtime.results(job_id).put_once(
        failure_key(unit.name), {"unit": unit.to_dict(), "reason": reason[:MAX_REASON]}
    )
