"""The ledger is JSON-safe and round-trips; RNG states restore exactly."""

from __future__ import annotations

import json

import pytest

from advisor_trainer.checkpoints.ledger import (
    HandoffLedger,
    SessionRecord,
    capture_rng_state,
    restore_rng_state,
)

pytestmark = pytest.mark.unit


def test_ledger_round_trips_through_json() -> None:
    ledger = HandoffLedger(
        run_name="r",
        base_model="b",
        global_step=142,
        total_steps=426,
        steps_per_epoch=142,
        samples_consumed=1136,
        tokens_consumed=10**6,
        data_order={"seed": 42},
        schedule={"kind": "linear"},
        seeds={"seed": 42},
        training_shape={"lora_r": 16},
        loss_history=[{"step": 142, "loss": 0.5, "lr": 1e-4}],
        sessions=[
            SessionRecord(
                0, "t", "Tesla P100", "cuda", "6.0", "float16", "hf-bnb", "adamw_8bit", 0, 142
            )
        ],
    )
    data = json.loads(json.dumps(ledger.to_dict()))
    assert (data["epoch"], data["epoch_index"], data["step_in_epoch"]) == (1.0, 1, 0)
    again = HandoffLedger.from_dict(data)
    assert again == ledger
    with pytest.raises(ValueError, match="unknown trainer_state format"):
        HandoffLedger.from_dict({**data, "format": "other"})


def test_rng_states_restore_exactly() -> None:
    import random

    import numpy as np
    import torch

    state = json.loads(json.dumps(capture_rng_state()))
    first = (random.random(), float(np.random.rand()), torch.rand(3).tolist())
    restore_rng_state(state)
    assert (random.random(), float(np.random.rand()), torch.rand(3).tolist()) == first
