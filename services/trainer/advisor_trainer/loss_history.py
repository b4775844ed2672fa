"""The training curve of a job, as `GET /v1/training-jobs/{id}` returns it: read from the ledger
(`trainer_state.json`) of the job's last committed bundle, the record the trainer already
keeps, so the curve survives the worker and spans every session of a handed-over run.

While a job runs, its last bundle is the last periodic one (`checkpoint_every_steps`), so the
curve lags the live step by at most that many steps; `progress` has the live step.
"""

from __future__ import annotations

import json
from typing import Any

from advisor_shared.bundle import BundleRef, read_bundle_file
from advisor_shared.errors import AdvisorError
from advisor_shared.store import ObjectStore

from .schemas import EvalPoint, LossPoint, TrainingHistory


def session_of(step: int, sessions: list[dict[str, Any]]) -> int:
    """The index of the session that ran global step `step` (1-based, as the ledger counts)."""
    for session in sessions:
        if session["first_step"] < step <= session["first_step"] + session["steps"]:
            return int(session["index"])
    return int(sessions[-1]["index"]) if sessions else 0


def history_from_ledger(ledger: dict[str, Any], bundle: str) -> TrainingHistory:
    sessions = ledger.get("sessions", [])
    return TrainingHistory(
        bundle=bundle,
        loss=[
            LossPoint(
                step=h["step"],
                loss=h["loss"],
                lr=h["lr"],
                grad_norm=h.get("grad_norm"),
                session=session_of(h["step"], sessions),
            )
            for h in ledger.get("loss_history", [])
        ],
        eval=[
            EvalPoint(
                step=e["step"], eval_loss=e["eval_loss"], session=session_of(e["step"], sessions)
            )
            for e in ledger.get("eval_history", [])
        ],
    )


def read_history(store: ObjectStore, bundle: str | None) -> TrainingHistory:
    """The history in `bundle`'s ledger; empty before the first bundle; `error` says why it
    could not be read (the job's status is still returned)."""
    if not bundle:
        return TrainingHistory()
    try:
        raw = read_bundle_file(store, BundleRef.parse(bundle), "trainer_state.json")
        return history_from_ledger(json.loads(raw), bundle)
    except (AdvisorError, ValueError, KeyError, TypeError) as exc:
        return TrainingHistory(bundle=bundle, error=f"the ledger cannot be read: {exc}")
