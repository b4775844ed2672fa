"""Non-finite weights are found by their exponent bits, in every float format of safetensors."""

from __future__ import annotations

import pytest

from advisor_shared.safetensors_header import inspect_safetensors, non_finite_tensors

pytestmark = pytest.mark.unit
torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_nan_or_infinity_is_found_in_its_tensor_only(tmp_path, dtype, bad) -> None:
    clean = torch.randn(3, 5, dtype=dtype) * 1e3
    poisoned = torch.randn(7, dtype=dtype)
    poisoned[4] = bad
    path = tmp_path / "w.safetensors"
    safetensors_torch.save_file(
        {"clean": clean, "poisoned": poisoned, "ints": torch.arange(4)}, str(path)
    )
    inspect_safetensors(path)
    assert non_finite_tensors(path) == ["poisoned"]


def test_extreme_finite_values_are_not_mistaken_for_infinities(tmp_path) -> None:
    path = tmp_path / "w.safetensors"
    values = {
        str(d): torch.tensor([torch.finfo(d).max, torch.finfo(d).min, torch.finfo(d).tiny]).to(d)
        for d in (torch.float16, torch.bfloat16, torch.float32)
    }
    safetensors_torch.save_file(values, str(path))
    assert non_finite_tensors(path) == []
