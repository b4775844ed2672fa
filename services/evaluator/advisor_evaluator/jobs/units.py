"""Run one work unit, or record why it cannot succeed. No queue code here: the Celery tasks call
these functions and own retries and leases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..factuality import audit_unit
from ..generation.answers import generate_answer
from ..judging.judge import judge_pair
from ..judging.pairwise import Order, slot_texts
from ..reference_metrics import score_unit
from .pipeline import WorkUnit, plan_candidate, plan_item
from .results import JobResults, failure_key, generation_key
from .runtime import Runtime

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


def _score(runtime: Runtime, plan: dict[str, Any], results: JobResults, unit: WorkUnit) -> None:
    score_unit(plan, results, unit)


RUNNERS: dict[str, Callable[[Runtime, dict[str, Any], JobResults, WorkUnit], None]] = {
    "generate": generate_unit,
    "score": _score,
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
