"""Training backends and the rule that picks one (docs/design.md#embedded-default-and-production).

- `unsloth`: CUDA, compute capability >= 7.0 (its Triton kernels) and the package importable;
- `hf-bnb`: transformers + peft + bitsandbytes 4-bit on CUDA (the path a P100 takes);
- `cpu-lora`: plain LoRA on the CPU, no quantisation, the base in bf16 where the CPU computes it
  natively, else fp32 (the embedded default).

Only `cpu-lora` runs on the machines the project is built on; the GPU paths are exercised on
the GPU benchmark machine (docs/gpu.md). Their argument builders are pure functions, unit-tested.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from ..errors import BackendUnavailableError
from ..hardware.device import DeviceInfo

UNSLOTH_MIN_CAPABILITY = (7, 0)


@dataclass(frozen=True)
class BackendChoice:
    name: str
    reason: str


def importable(package: str) -> bool:
    """Whether `package` can be imported, without importing it (Unsloth's import is slow and
    patches transformers)."""
    return importlib.util.find_spec(package) is not None


def choose_backend(
    requested: str,
    device: DeviceInfo,
    *,
    unsloth_importable: bool,
    bitsandbytes_importable: bool,
) -> BackendChoice:
    """The backend for `requested` ('auto' or a name) on `device`; refuse an impossible one."""
    on_cuda = device.kind == "cuda"
    cc = device.compute_capability or (0, 0)
    unsloth_ok = on_cuda and cc >= UNSLOTH_MIN_CAPABILITY and unsloth_importable
    if requested == "cpu-lora":
        return BackendChoice("cpu-lora", "requested")
    if requested == "unsloth":
        if not unsloth_ok:
            raise BackendUnavailableError(
                f"backend 'unsloth' needs CUDA with compute capability >= 7.0 and the unsloth "
                f"package; here: {device.name} (cc {device.capability_text or 'none'}), "
                f"unsloth {'importable' if unsloth_importable else 'not installed'}"
            )
        return BackendChoice("unsloth", "requested")
    if requested == "hf-bnb":
        if not on_cuda or not bitsandbytes_importable:
            raise BackendUnavailableError(
                f"backend 'hf-bnb' needs CUDA and bitsandbytes (pip install "
                f"'advisor-trainer[cuda]'); here: {device.name}, bitsandbytes "
                f"{'importable' if bitsandbytes_importable else 'not installed'}"
            )
        return BackendChoice("hf-bnb", "requested")
    if unsloth_ok:
        return BackendChoice("unsloth", f"CUDA cc {device.capability_text} and unsloth installed")
    if on_cuda:
        if not bitsandbytes_importable:
            raise BackendUnavailableError(
                "CUDA is available but neither unsloth nor bitsandbytes is installed; "
                "pip install 'advisor-trainer[gpu]' (or [cuda] for bitsandbytes alone), or set "
                "backend: cpu-lora"
            )
        why = "unsloth not installed" if cc >= UNSLOTH_MIN_CAPABILITY else "cc below 7.0"
        return BackendChoice("hf-bnb", f"CUDA, {why}")
    return BackendChoice("cpu-lora", "no CUDA device")


def policy_backend(device: DeviceInfo) -> str:
    """What 'auto' would pick on `device` with every optional package installed (used to
    describe a simulated card)."""
    return choose_backend(
        "auto", device, unsloth_importable=True, bitsandbytes_importable=True
    ).name


@dataclass
class LoadedModel:
    """A base model with LoRA attached, ready to train."""

    model: Any
    backend: str
    device: str  # torch device string
    dtype: str
    quantised: bool
    packing: str | None = None  # the packing layout (advisor_trainer.data.packing), None = padding

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)


def load_model(backend: str, config: Any, location: str, dtype: str) -> LoadedModel:
    """Load the base through `backend`, attach fresh LoRA weights (seeded), and settle the
    packing layout and the trainable weights' dtype."""
    if backend == "unsloth":
        from . import unsloth

        loaded = unsloth.load(config, location, dtype)
    elif backend == "hf-bnb":
        from . import hf_bnb

        loaded = hf_bnb.load(config, location, dtype)
    else:
        from . import cpu_lora

        loaded = cpu_lora.load(config, location, dtype)
    loaded.packing = packing_layout(loaded, enabled=config.packing)
    if loaded.dtype == "float16":
        keep_trainable_in_float32(loaded.model)
    return loaded


def packing_layout(loaded: LoadedModel, *, enabled: bool) -> str | None:
    """'flat' for Unsloth (its padding-free varlen attention), 'rows' for transformers models
    whose masks come from packed position ids, None (padding) when off or not supported."""
    if not enabled:
        return None
    if loaded.backend == "unsloth":
        return "flat"
    from ..data.packing import rows_layout_supported

    return "rows" if rows_layout_supported(loaded.model) else None


def keep_trainable_in_float32(model: Any) -> None:
    """Mixed precision keeps the trainable (LoRA) weights in fp32: the gradient scaler refuses
    fp16 gradients, and fp16 or bf16 weights lose small updates (Adam's steps at LR 1e-3 and
    below are under bf16's resolution for weights near 1e-2)."""
    import torch

    for param in model.parameters():
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.float()
