"""The HF engine's dtype on the CPU: fp32 unless asked, even where bf16 is native, since bf16
answers depend on which requests share a batch and an evaluation must repeat."""

from __future__ import annotations

import pytest
import torch

from advisor_inference.engines.hf import runner

pytestmark = pytest.mark.unit


def test_auto_serves_fp32_on_the_cpu() -> None:
    assert runner.choose_device("cpu", "auto").dtype == torch.float32


def test_bf16_on_the_cpu_is_served_when_asked() -> None:
    assert runner.choose_device("cpu", "bfloat16").dtype == torch.bfloat16
