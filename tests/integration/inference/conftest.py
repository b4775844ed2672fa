"""Fixtures for the inference tests: real LoRA adapters on the tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.inference.lora_factory import make_lora_dir


@pytest.fixture(scope="session")
def lora_dirs(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """alpha/beta: two different random adapters; wide: rank 32; inert: LoRA B = 0."""
    root = tmp_path_factory.mktemp("loras")
    return {
        "alpha": make_lora_dir(tiny_model_dir, root / "alpha", seed=1),
        "beta": make_lora_dir(tiny_model_dir, root / "beta", seed=2),
        "wide": make_lora_dir(tiny_model_dir, root / "wide", seed=3, rank=32),
        "inert": make_lora_dir(tiny_model_dir, root / "inert", seed=4, zero=True),
    }
