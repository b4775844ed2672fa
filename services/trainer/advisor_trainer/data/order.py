"""Validation split and the order of batches, as pure functions of the seed.

The batches of an epoch depend only on (seed, epoch) and the example lengths, never on what
ran before, so a run resumed at step k in a new process takes exactly the batches the
uninterrupted run took from step k on (docs/design.md, lesson 3). Peer trainers reshuffle from the
start after a reload (LLaMA-Factory #3042, Axolotl #1134); that is the `naive` handoff here.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

MicroBatch = tuple[int, ...]  # indices into the training examples
StepBatches = tuple[MicroBatch, ...]  # the micro-batches of one optimizer step


def split_validation(ids: Sequence[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train indices, validation indices); the split depends on the ids and seed, not on
    the file order. At least one conversation stays on each side when a split is asked for."""
    if fraction <= 0 or len(ids) < 2:
        return list(range(len(ids))), []
    keyed = sorted(range(len(ids)), key=lambda i: _id_rank(ids[i], seed))
    size = min(max(1, round(len(ids) * fraction)), len(ids) - 1)
    validation = sorted(keyed[:size])
    held = set(validation)
    return [i for i in range(len(ids)) if i not in held], validation


def _id_rank(conversation_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{conversation_id}".encode()).hexdigest()


@dataclass(frozen=True)
class DataOrder:
    """How the training examples are cut into optimizer steps, epoch by epoch."""

    lengths: tuple[int, ...]
    seed: int
    micro_batch_size: int
    gradient_accumulation_steps: int
    length_grouping: bool = True
    length_group_size: int = 32

    @property
    def micro_batches_per_epoch(self) -> int:
        return math.ceil(len(self.lengths) / self.micro_batch_size)

    @property
    def steps_per_epoch(self) -> int:
        """The last step of an epoch may hold fewer micro-batches (as in HF Trainer)."""
        return math.ceil(self.micro_batches_per_epoch / self.gradient_accumulation_steps)

    def epoch_micro_batches(self, epoch: int) -> list[MicroBatch]:
        """The micro-batches of `epoch`, a pure function of (seed, epoch)."""
        rng = random.Random(f"advisor-data-order:{self.seed}:{epoch}")
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        size = self.micro_batch_size
        if not self.length_grouping:
            return [tuple(order[i : i + size]) for i in range(0, len(order), size)]
        # Sort shuffled windows by length so each micro-batch pads little, then shuffle the
        # micro-batches so lengths do not drift in one direction through the epoch.
        window = size * self.length_group_size
        batches: list[MicroBatch] = []
        for start in range(0, len(order), window):
            group = sorted(order[start : start + window], key=lambda i: (-self.lengths[i], i))
            batches.extend(tuple(group[i : i + size]) for i in range(0, len(group), size))
        rng.shuffle(batches)
        return batches

    def epoch_steps(self, epoch: int) -> list[StepBatches]:
        micro = self.epoch_micro_batches(epoch)
        accumulation = self.gradient_accumulation_steps
        return [tuple(micro[i : i + accumulation]) for i in range(0, len(micro), accumulation)]

    def step_batches(self, global_step: int) -> StepBatches:
        """The micro-batches of optimizer step `global_step` (0-based) of the whole run."""
        epoch, position = divmod(global_step, self.steps_per_epoch)
        return self.epoch_steps(epoch)[position]


def batch_digest(conversation_ids: Sequence[Sequence[str]]) -> str:
    """A short fingerprint of the conversations in one step's micro-batches, in order."""
    text = "|".join(",".join(batch) for batch in conversation_ids)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
