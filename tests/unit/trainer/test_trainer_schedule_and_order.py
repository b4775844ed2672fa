"""The LR schedule and the data order are pure functions of the step and of (seed, epoch)."""

from __future__ import annotations

import pytest

from advisor_trainer.data.order import DataOrder, split_validation
from advisor_trainer.training.schedule import LRSchedule

pytestmark = pytest.mark.unit


def test_schedule_matches_transformers_linear_warmup() -> None:
    import torch
    from transformers import get_linear_schedule_with_warmup

    schedule = LRSchedule.build("linear", 2e-4, 0.03, 284)
    assert schedule.warmup_steps == 9  # the paper's P100 phase: peak at step 9 (docs/paper.md §2.2)
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    reference = get_linear_schedule_with_warmup(optimizer, 9, 284)
    for step in range(284):
        assert schedule.lr_at(step) == pytest.approx(optimizer.param_groups[0]["lr"], abs=1e-15)
        optimizer.step()
        reference.step()


def test_schedule_survives_a_round_trip_through_the_ledger() -> None:
    schedule = LRSchedule.build("linear", 2e-4, 0.03, 426)
    again = LRSchedule.from_dict(schedule.to_dict())
    assert [again.lr_at(s) for s in range(426)] == [schedule.lr_at(s) for s in range(426)]


def _order(seed: int = 7, grouping: bool = True) -> DataOrder:
    lengths = tuple(10 + (i * 37) % 300 for i in range(101))
    return DataOrder(
        lengths,
        seed,
        micro_batch_size=4,
        gradient_accumulation_steps=3,
        length_grouping=grouping,
        length_group_size=5,
    )


def test_data_order_is_a_pure_function_of_seed_and_epoch() -> None:
    a, b = _order(), _order()
    assert a.epoch_steps(1) == b.epoch_steps(1)
    assert a.epoch_steps(0) != a.epoch_steps(1)
    assert a.epoch_steps(0) != _order(seed=8).epoch_steps(0)
    # global step k is the k-th step of the concatenated epochs, whatever ran before
    flat = a.epoch_steps(0) + a.epoch_steps(1) + a.epoch_steps(2)
    assert [b.step_batches(k) for k in range(len(flat))] == flat


def test_every_example_appears_once_per_epoch() -> None:
    order = _order()
    assert order.steps_per_epoch == 9  # ceil(ceil(101 / 4) / 3)
    for epoch in range(3):
        seen = [i for step in order.epoch_steps(epoch) for batch in step for i in batch]
        assert sorted(seen) == list(range(101))


def test_length_grouping_cuts_padding() -> None:
    def padding(order: DataOrder) -> int:
        return sum(
            max(order.lengths[i] for i in batch) * len(batch) - sum(order.lengths[i] for i in batch)
            for batch in order.epoch_micro_batches(0)
        )

    assert padding(_order(grouping=True)) < 0.5 * padding(_order(grouping=False))


def test_validation_split_is_seeded_and_ignores_file_order() -> None:
    ids = [f"c{i}" for i in range(40)]
    train, validation = split_validation(ids, 0.1, seed=42)
    assert len(validation) == 4 and sorted(train + validation) == list(range(40))
    reversed_ids = ids[::-1]
    _, validation_reversed = split_validation(reversed_ids, 0.1, seed=42)
    assert {ids[i] for i in validation} == {reversed_ids[i] for i in validation_reversed}
    assert split_validation(ids, 0.1, seed=43)[1] != validation
    assert split_validation(ids, 0.0, seed=42) == (list(range(40)), [])
