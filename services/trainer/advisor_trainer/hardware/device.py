"""The device a session runs on, the dtype policy, and the simulated cards of the demo.

dtype comes from the compute capability, never from `torch.cuda.is_bf16_supported()`, which
answers yes on a P100 or T4 through emulation (docs/design.md, lesson 5): bf16 only from 8.0
(Ampere), fp16 below. On the CPU, bf16 where it is native (AMX or AVX-512 BF16), else fp32.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from advisor_shared.cpu_precision import cpu_has_native_bf16

from ..errors import ConfigError

BF16_MIN_CAPABILITY = (8, 0)


@dataclass(frozen=True)
class DeviceInfo:
    """What the trainer needs to know about a device: kind, name, capability, memory."""

    kind: str  # "cuda" or "cpu"
    name: str
    compute_capability: tuple[int, int] | None
    total_memory_bytes: int
    # A CPU with AMX or AVX-512 BF16 (advisor_shared.cpu_precision); unused for CUDA cards.
    native_bf16: bool = False

    @property
    def capability_text(self) -> str | None:
        cc = self.compute_capability
        return None if cc is None else f"{cc[0]}.{cc[1]}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["compute_capability"] = self.capability_text
        return data


# Memory as torch reports `total_memory` on these cards (Unsloth prints it as "Max memory":
# 15.888 GB on the P100 and 14.741 GB on the T4, docs/paper.md §2.4).
DEVICE_PROFILES: dict[str, DeviceInfo] = {
    "p100": DeviceInfo("cuda", "Tesla P100-PCIE-16GB", (6, 0), 17_059_545_088),
    "t4": DeviceInfo("cuda", "Tesla T4", (7, 5), 15_828_320_256),
    "a100": DeviceInfo("cuda", "NVIDIA A100-SXM4-40GB", (8, 0), 42_298_834_944),
    "h200": DeviceInfo("cuda", "NVIDIA H200", (9, 0), 150_109_880_320),
}


def choose_dtype(device: DeviceInfo, precision: str = "auto") -> str:
    """'bfloat16' from compute capability 8.0, 'float16' on older CUDA cards; on the CPU
    'bfloat16' where it is native, else 'float32'. `precision` 'fp16' forces fp16 on CUDA,
    'fp32' forces fp32 anywhere, 'bf16' is refused where it would be emulated."""
    if precision == "fp32":
        return "float32"
    if device.kind != "cuda" or device.compute_capability is None:
        return _cpu_dtype(device, precision)
    native_bf16 = device.compute_capability >= BF16_MIN_CAPABILITY
    if precision == "fp16":
        return "float16"
    if precision == "bf16" and not native_bf16:
        raise ConfigError(
            f"precision bf16: {device.name} (cc {device.capability_text}) has no bf16 units, "
            "torch would emulate it; use precision: auto or fp16"
        )
    return "bfloat16" if native_bf16 else "float16"


def _cpu_dtype(device: DeviceInfo, precision: str) -> str:
    """bf16 for the frozen weights where the CPU computes it natively (about half the CPU time
    of fp32 per step); fp16 is never used on a CPU (no fast kernels)."""
    if precision == "bf16" and not device.native_bf16:
        raise ConfigError(
            f"precision bf16: {device.name} has neither AMX nor AVX-512 BF16, torch would "
            "emulate it; use precision: auto or fp32"
        )
    return "bfloat16" if device.native_bf16 and precision in ("auto", "bf16") else "float32"


def detect_device() -> DeviceInfo:
    """The first CUDA device if there is one, else the CPU with its available RAM."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return DeviceInfo("cuda", props.name, (props.major, props.minor), props.total_memory)
    return DeviceInfo("cpu", cpu_name(), None, available_ram_bytes(), cpu_has_native_bf16())


def available_ram_bytes() -> int:
    """RAM the process can still take (what a CPU run is checked against)."""
    import psutil

    return int(psutil.virtual_memory().available)


def cpu_name() -> str:
    import platform

    return f"cpu ({platform.machine() or 'unknown'}, {_cpu_count()} cores)"


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
