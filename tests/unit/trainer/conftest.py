"""Fixtures of the trainer's unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.trainer.trainer_testkit import write_dataset


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "train.jsonl")
