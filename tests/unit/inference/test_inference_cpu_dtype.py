"""The HF engine's dtype on the CPU: bf16 where the CPU computes it natively, else fp32."""

from __future__ import annotations

import pytest
import torch

from advisor_inference.engines.hf import runner

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("native", "expected"), [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_dtype_on_the_cpu_follows_native_bf16(monkeypatch, native, expected) -> None:
    monkeypatch.setattr(runner, "cpu_has_native_bf16", lambda: native)
    assert runner.choose_device("cpu", "auto").dtype == expected


def test_an_explicit_dtype_wins(monkeypatch) -> None:
    monkeypatch.setattr(runner, "cpu_has_native_bf16", lambda: True)
    assert runner.choose_device("cpu", "float32").dtype == torch.float32
