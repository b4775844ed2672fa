"""The audit-worlds harness keeps sealed worlds sealed: scored only on request, and the commit
that first scored one is never replaced by a later run (issue 15)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "benchmarks"))

import audit_worlds  # noqa: E402

pytestmark = pytest.mark.unit


def _figures(detected: int) -> dict:
    return {
        "planted": {"number": 2},
        "detected": {"number": detected},
        "conversations": 4,
        "clean_answers": 2,
        "false_positives": 0,
        "claims": 10,
        "seconds": 1.0,
    }


def test_sealed_worlds_need_the_flag() -> None:
    with pytest.raises(SystemExit, match="--sealed"):
        audit_worlds.choose_worlds(["sealed-x"], sealed=False)
    assert audit_worlds.choose_worlds([], sealed=False) == [
        *audit_worlds.DEV_WORLDS,
        *audit_worlds.SAMPLE_WORLDS,
    ]


def test_the_first_scoring_commit_of_a_sealed_world_is_kept() -> None:
    first = audit_worlds.merge({}, {"sealed-x": _figures(1)}, "cmd")
    commit = first["sealed"]["first_scored_commit"]
    assert commit and first["per_world"]["sealed-x"]["first_scored_commit"] == commit
    assert first["sealed"]["recall_by_class"] == {"number": 0.5}
    previous = first | {"sealed": first["sealed"] | {"first_scored_commit": "0" * 40}}
    previous["per_world"]["sealed-x"]["first_scored_commit"] = "0" * 40
    again = audit_worlds.merge(previous, {"sealed-x": _figures(2)}, "cmd")
    assert again["sealed"]["first_scored_commit"] == "0" * 40
    assert again["per_world"]["sealed-x"]["first_scored_commit"] == "0" * 40
    assert again["sealed"]["recall_by_class"] == {"number": 1.0}


def test_a_dev_run_keeps_sealed_results() -> None:
    sealed = audit_worlds.merge({}, {"sealed-x": _figures(1)}, "cmd")
    dev = audit_worlds.merge(sealed, {"dev-lagoon": _figures(2)}, "cmd")
    assert dev["sealed"]["recall_by_class"] == {"number": 0.5}
    assert dev["dev"]["recall_by_class"] == {"number": 1.0}


def test_retired_sealed_history_is_carried_over_and_sealed_folders_stay_sealed() -> None:
    history = {"first_scored_commit": "0" * 40, "worlds": {"sealed-x": {"now": "dev-x"}}}
    previous = {"retired_sealed": history}
    run = audit_worlds.merge(previous, {"dev-lagoon": _figures(2)}, "cmd")
    assert run["retired_sealed"] == history
    assert run["sealed"]["first_scored_commit"] is None
    assert {"dev-a", "dev-b", "dev-c"} <= set(audit_worlds.DEV_WORLDS)
    assert not any(audit_worlds.is_sealed(w) for w in audit_worlds.DEV_WORLDS)
    assert audit_worlds.is_sealed("sealed-d")
    with pytest.raises(SystemExit, match="--sealed"):
        audit_worlds.choose_worlds(["sealed-d"], sealed=False)
