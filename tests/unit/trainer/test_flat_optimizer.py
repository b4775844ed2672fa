"""The flat optimizer gives the per-tensor optimizer's update and state, to the bit."""

from __future__ import annotations

import copy
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from advisor_trainer.flat_optimizer import BLOCK, FlatOptimizer
from advisor_trainer.optimizers import MIN_8BIT_SIZE, build_optimizer

# LoRA-like shapes, with sizes off the 256-element blocks, one under bitsandbytes'
# min_8bit_size (32-bit state there) and one that is not a matrix.
SHAPES = [(16, 300), (300, 16), (16, 4096), (40, 16), (3,), (4096, 16), (17, 19)]
Make = Callable[[list[Any]], Any]


def torch_adamw(tensors: list[Any]) -> Any:
    return torch.optim.AdamW(tensors, lr=1e-2, weight_decay=0.1)


# bitsandbytes' CPU build, installed beside the environment by `make install` (peft would
# import it in every process of the environment); the adamw_8bit cases run against it in a
# process of their own (`test_the_bitsandbytes_cases_ran_against_its_cpu_build`).
BNB_CPU = Path(__file__).resolve().parents[3] / ".venv" / "bitsandbytes-cpu"


def bnb_adamw8bit(tensors: list[Any]) -> Any:
    bnb = pytest.importorskip("bitsandbytes")
    return bnb.optim.AdamW8bit(tensors, lr=1e-2, weight_decay=0.1, min_8bit_size=MIN_8BIT_SIZE)


OPTIMIZERS = {"adamw_torch": (torch_adamw, 0), "adamw_8bit": (bnb_adamw8bit, MIN_8BIT_SIZE)}


def fresh_params(device: str = "cpu") -> list[torch.nn.Parameter]:
    generator = torch.Generator().manual_seed(0)
    return [torch.nn.Parameter((torch.randn(s, generator=generator) * 0.1).to(device))
            for s in SHAPES]  # fmt: skip


def train(params: list[torch.nn.Parameter], optimizer: Any, steps: int, scaler: Any = None) -> None:
    """`steps` steps of two accumulated backward passes each, clipped as the trainer clips."""
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        for _micro in range(2):
            noise = [torch.randn(p.shape, generator=generator).to(p.device) for p in params]
            loss = sum(((p * n) ** 2).sum() for p, n in zip(params, noise, strict=True))
            (scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        if scaler:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
    return bool(a == b)


def trained_both_ways(make: Make, min_numel: int, device: str = "cpu") -> FlatOptimizer:
    """Five steps per tensor and flat from the same start; both must end the same to the bit."""
    plain_params, flat_params = fresh_params(device), fresh_params(device)
    plain = make(plain_params)
    flat = FlatOptimizer(make, flat_params, min_numel=min_numel)
    train(plain_params, plain, steps=5)
    train(flat_params, flat, steps=5)
    assert all(torch.equal(a, b) for a, b in zip(plain_params, flat_params, strict=True))
    assert same(plain.state_dict(), flat.state_dict())
    return flat


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_flat_updates_and_state_equal_the_per_tensor_optimizer_to_the_bit(name: str) -> None:
    make, min_numel = OPTIMIZERS[name]
    flat = trained_both_ways(make, min_numel)
    # One tensor for all the large ones, each on a block boundary.
    flattened = [s for s in SHAPES if torch.Size(s).numel() >= max(min_numel, 1)]
    assert len(flat.param_groups[0]["params"]) == 1 + len(SHAPES) - len(flattened)
    assert flat.flat_numel == sum(-(-torch.Size(s).numel() // BLOCK) * BLOCK for s in flattened)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_state_moves_between_the_layouts_and_training_goes_on_identically(name: str) -> None:
    make, min_numel = OPTIMIZERS[name]
    params = fresh_params()
    source = make(params)
    train(params, source, steps=3)
    saved = copy.deepcopy(source.state_dict())

    def resumed(flat: bool, state: dict[str, Any]) -> list[torch.nn.Parameter]:
        params = fresh_params()
        optimizer = FlatOptimizer(make, params, min_numel=min_numel) if flat else make(params)
        optimizer.load_state_dict(copy.deepcopy(state))
        train(params, optimizer, steps=3)
        return params

    from_plain_into_flat = resumed(True, saved)
    plain_again = resumed(False, saved)
    assert all(torch.equal(a, b) for a, b in zip(plain_again, from_plain_into_flat, strict=True))

    flat_params = fresh_params()
    flat = FlatOptimizer(make, flat_params, min_numel=min_numel)
    train(flat_params, flat, steps=3)
    from_flat_into_plain = resumed(False, flat.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(plain_again, from_flat_into_plain, strict=True))


def test_the_gradient_scaler_unscales_the_flat_gradients() -> None:
    plain_params, flat_params = fresh_params(), fresh_params()
    plain, flat = torch_adamw(plain_params), FlatOptimizer(torch_adamw, flat_params)
    train(plain_params, plain, steps=3, scaler=torch.amp.GradScaler("cpu", init_scale=2.0**8))
    train(flat_params, flat, steps=3, scaler=torch.amp.GradScaler("cpu", init_scale=2.0**8))
    assert all(torch.equal(a, b) for a, b in zip(plain_params, flat_params, strict=True))


def test_the_tensors_live_in_the_buffer_and_keep_their_identity() -> None:
    params = fresh_params()
    before = [p.detach().clone() for p in params]
    flat = FlatOptimizer(torch_adamw, params)
    buffer = flat.param_groups[0]["params"][0]

    def inside(tensor: torch.Tensor, whole: torch.Tensor) -> bool:
        start = whole.data_ptr()
        return start <= tensor.data_ptr() < start + whole.numel() * whole.element_size()

    for p, original in zip(params, before, strict=True):
        assert torch.equal(p, original)
        assert inside(p, buffer) and p.grad is not None and inside(p.grad, buffer.grad)


def test_a_gradient_replaced_outside_the_buffer_is_refused_not_lost() -> None:
    params = fresh_params()
    flat = FlatOptimizer(torch_adamw, params)
    params[0].grad = None  # what model.zero_grad(set_to_none=True) does
    sum((p**2).sum() for p in params).backward()
    with pytest.raises(RuntimeError, match="parameter 0's gradient was replaced"):
        flat.step()
    flat.zero_grad()  # re-attaches the buffer's gradients: the next step runs
    sum((p**2).sum() for p in params).backward()
    flat.step()


def test_a_tensor_moved_out_of_the_buffer_is_refused_not_trained_in_vain() -> None:
    params = fresh_params()
    flat = FlatOptimizer(torch_adamw, params)
    params[2].data = params[2].data.clone()  # a cast or a move after the optimizer was built
    sum((p**2).sum() for p in params).backward()
    with pytest.raises(RuntimeError, match="parameter 2 no longer lives in the flat buffer"):
        flat.step()


def test_a_state_for_other_tensors_is_refused_with_the_counts() -> None:
    flat = FlatOptimizer(torch_adamw, fresh_params())
    other = torch_adamw([torch.nn.Parameter(torch.zeros(4))])
    with pytest.raises(ValueError, match="optimizer state for 1 tensors in 1 groups; this "):
        flat.load_state_dict(other.state_dict())


def test_build_optimizer_flattens_what_goes_tensor_by_tensor_or_what_it_is_told() -> None:
    def build(flat: str) -> tuple[Any, str]:
        return build_optimizer(
            "adamw_8bit", fresh_params(), lr=1e-3, weight_decay=0.0, device_kind="cpu", flat=flat
        )

    # torch's AdamW on a CPU: faster per tensor (cache), so 'auto' leaves it so.
    plain, used = build("auto")
    assert isinstance(plain, torch.optim.AdamW) and used == "adamw_torch (adamw_8bit needs CUDA)"
    flat, used = build("on")
    assert isinstance(flat, FlatOptimizer) and isinstance(flat.inner, torch.optim.AdamW)
    assert used == "adamw_torch (adamw_8bit needs CUDA) over one flat buffer"
    assert isinstance(build("off")[0], torch.optim.AdamW)


def test_the_bitsandbytes_cases_ran_against_its_cpu_build() -> None:
    if importlib.util.find_spec("bitsandbytes") is not None:
        pytest.skip("bitsandbytes is importable here: its cases ran in this process")
    if not BNB_CPU.is_dir():
        pytest.skip(f"no {BNB_CPU.name} beside the environment (make install puts it there)")
    path = os.pathsep.join([str(BNB_CPU), os.environ.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", "adamw_8bit"],
        env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout and "skipped" not in run.stdout, run.stdout[-2000:]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_bitsandbytes_cuda_kernel_gives_the_same_update_flat() -> None:
    """The 8-bit update is one fused CUDA kernel there (not the CPU build's torch operations):
    its blocks must line up with the buffer's too."""
    trained_both_ways(bnb_adamw8bit, MIN_8BIT_SIZE, device="cuda")
