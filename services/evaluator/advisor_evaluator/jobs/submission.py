"""Accept an evaluation: check everything that can be checked before any work is queued.

Bad input is refused here with a 4xx-worthy `EvaluationInputError` (unknown model, empty prompt
set, references missing, judge unreachable), so a job that starts has a fair chance to finish.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from advisor_shared.jobs import JobNotFoundError, JobRecord

from ..errors import EndpointRejected, EndpointUnavailable, EvaluationInputError
from ..schemas import EvaluationCreate
from .datasets import first_user_turns, load_items
from .runtime import Runtime

JOB_KIND = "evaluation"
log = logging.getLogger(__name__)


def served_models(runtime: Runtime) -> dict[str, dict[str, Any]]:
    """The gateway's models by id; a 503-worthy error when it does not answer."""
    try:
        listing = runtime.inference().list_models()
    except (EndpointUnavailable, EndpointRejected) as exc:
        raise EvaluationInputError(
            f"the inference API does not answer: {exc}", code="inference_unavailable", status=503
        ) from None
    return {str(model.get("id")): model for model in listing}


def check_judge(runtime: Runtime, spec: EvaluationCreate) -> None:
    """The judge endpoint is configured, answers and serves the judge model. What the endpoint
    said is logged, not returned: one message for every failure, so a client learns nothing
    about what lies behind a configured URL."""
    assert spec.judge is not None
    name = spec.judge.endpoint
    if name is not None and name not in runtime.settings.judge_endpoints:
        configured = ", ".join(sorted(runtime.settings.judge_endpoints)) or "none"
        raise EvaluationInputError(
            f"no judge endpoint named {name[:64]!r} is configured (configured: {configured})",
            param="judge.endpoint",
            code="unknown_judge_endpoint",
        )
    try:
        listing = runtime.judge(name).list_models()
    except (EndpointUnavailable, EndpointRejected) as exc:
        log.warning("judge endpoint %r failed its check: %s", name or "inference", exc)
        raise EvaluationInputError(
            f"the judge endpoint {name or 'inference'!r} is not available",
            param="judge.endpoint",
            code="judge_unavailable",
            status=503,
        ) from None
    models = {str(model.get("id")) for model in listing}
    if spec.judge.model not in models:
        raise EvaluationInputError(
            f"the judge endpoint does not serve {spec.judge.model[:100]!r} "
            f"(it serves: {', '.join(sorted(models)[:10])})",
            param="judge.model",
            code="unknown_judge_model",
        )


def validate_submission(runtime: Runtime, spec: EvaluationCreate) -> dict[str, dict[str, Any]]:
    """Refuse what cannot be evaluated; return the gateway's model listing."""
    load_items(spec, runtime.store)
    if spec.training_dataset:
        first_user_turns(runtime.store, spec.training_dataset, "training_dataset")
    models = served_models(runtime)
    unknown = [name for name in spec.candidates if name not in models]
    if unknown:
        raise EvaluationInputError(
            f"unknown model(s) {', '.join(repr(u[:100]) for u in unknown)}; the inference API "
            f"serves: {', '.join(sorted(models)[:10])}",
            param="candidates",
            code="unknown_model",
        )
    if "judge" in spec.metrics:
        check_judge(runtime, spec)
    return models


def create_evaluation(
    runtime: Runtime,
    spec: EvaluationCreate,
    idempotency_key: str | None,
    enqueue: Callable[[str], None],
    owner: str | None = None,
) -> tuple[JobRecord, bool]:
    """Validate, record the job durably, store its request, queue it. A repeated
    `Idempotency-Key` returns the first job (and queues nothing); reused with a different request
    it is refused."""
    validate_submission(runtime, spec)
    try:
        record, created = runtime.jobs.create(
            JOB_KIND, spec.public_request(), idempotency_key, owner=owner
        )
    except JobNotFoundError:
        # The key is reserved (in Redis) by a submission whose record never appeared: that
        # submission died half-way. Its key cannot be honoured; a new one can.
        raise EvaluationInputError(
            "this Idempotency-Key belongs to a submission that did not complete; use a new key",
            code="idempotency_conflict",
            status=409,
        ) from None
    if not created:
        if record.request != spec.public_request():
            raise EvaluationInputError(
                "this Idempotency-Key was used for a different request",
                code="idempotency_conflict",
                status=409,
            )
        return record, False
    runtime.results(record.id).put_once("request.json", spec.model_dump(mode="json"))
    runtime.heartbeat(record.id)  # queued work is alive: the reconciler leaves it to the queue
    enqueue(record.id)
    return record, True
