"""What makes a PEFT LoRA servable: the checks shared by the gateway (before an engine sees a
bundle) and the adapter import (before a folder becomes a bundle).

A plain LoRA on allowed projections, rank within the engine's limit, no regex targets, and
tensors that are exactly the `lora_A`/`lora_B` pairs of those modules, shaped like the base
model's Linear layers. Each refusal names the file and the reason, with a machine code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

from .errors import BundleError
from .safetensors_header import TensorInfo

# PEFT saves LoRA weights as `base_model.model.<module path>.lora_{A,B}.weight`.
LORA_TENSOR = re.compile(
    r"^base_model\.model\.(?P<module>[A-Za-z0-9_.]+)\.lora_(?P<ab>[AB])\.weight$"
)
FLOAT_DTYPES = frozenset({"F32", "F16", "BF16"})
# The projection names of Mistral/Llama blocks; LoRA on anything else (embeddings, lm_head,
# norms) is refused: vLLM cannot serve it and it is not what the trainer produces.
DEFAULT_TARGET_MODULES = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)
# The gateway's default ceiling (vLLM's --max-lora-rank in compose.yaml).
DEFAULT_MAX_LORA_RANK = 16


class LoraCheckError(BundleError):
    """A LoRA adapter fails a check; `code` says which kind (rank_too_high, ...)."""

    def __init__(self, message: str, code: str = "invalid_bundle"):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class LoraSpec:
    rank: int
    alpha: float
    target_modules: tuple[str, ...]


def check_lora_config(
    config: dict[str, Any], *, max_rank: int, allowed_targets: Iterable[str]
) -> LoraSpec:
    """The adapter_config must describe a plain LoRA on allowed projections, rank ≤ max_rank."""
    refuse = _refuser("adapter_config.json")
    if config.get("peft_type") != "LORA":
        refuse(f"peft_type is {str(config.get('peft_type'))[:40]!r}, only 'LORA' is served")
    rank = config.get("r")
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        refuse("r (the LoRA rank) must be a positive integer")
    ranks = [rank, *(config.get("rank_pattern") or {}).values()]
    if any(not isinstance(r, int) or r > max_rank for r in ranks):
        refuse(
            f"LoRA rank {max(r for r in ranks if isinstance(r, int))} exceeds the maximum "
            f"{max_rank} this engine serves",
            code="rank_too_high",
        )
    alpha = config.get("lora_alpha")
    if not isinstance(alpha, int | float) or isinstance(alpha, bool):
        refuse("lora_alpha must be a number")
    targets = config.get("target_modules")
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
        refuse("target_modules must be a non-empty list of module names (no regex)")
    allowed = set(allowed_targets)
    unknown = sorted(set(targets) - allowed)
    if unknown:
        refuse(
            f"target modules {', '.join(unknown)[:120]} are not allowed "
            f"(allowed: {', '.join(sorted(allowed))})",
            code="target_modules_not_allowed",
        )
    for unsupported in ("modules_to_save", "use_dora", "layers_pattern"):
        if config.get(unsupported):
            refuse(f"{unsupported} is set; only plain LoRA weights are served")
    return LoraSpec(rank=rank, alpha=float(alpha), target_modules=tuple(targets))


def check_tensors(
    tensors: dict[str, TensorInfo],
    spec: LoraSpec,
    linear_shapes: dict[str, tuple[int, int]] | None,
    rank_pattern: dict[str, int] | None = None,
) -> None:
    """Every tensor is a LoRA A/B pair on an allowed module of the base, with matching shapes."""
    refuse = _refuser("adapter_model.safetensors")
    if not tensors:
        refuse("holds no tensors")
    halves: dict[str, dict[str, TensorInfo]] = {}
    for name, tensor in tensors.items():
        match = LORA_TENSOR.match(name)
        if match is None:
            refuse(f"unexpected tensor {name[:120]!r}: only LoRA A/B weights are allowed")
        module = match.group("module")
        if module.rsplit(".", 1)[-1] not in spec.target_modules:
            refuse(f"tensor {name[:120]!r} targets a module outside target_modules")
        if tensor.dtype not in FLOAT_DTYPES or len(tensor.shape) != 2:
            refuse(f"tensor {name[:120]!r} must be a 2-D float tensor")
        halves.setdefault(module, {})[match.group("ab")] = tensor
    for module, pair in halves.items():
        if set(pair) != {"A", "B"}:
            refuse(f"module {module[:120]!r} lacks its lora_{'B' if 'A' in pair else 'A'} weight")
        rank = _module_rank(module, spec.rank, rank_pattern)
        (a_rank, a_in), (b_out, b_rank) = pair["A"].shape, pair["B"].shape
        if a_rank != rank or b_rank != rank:
            refuse(f"module {module[:120]!r} has rank {a_rank}/{b_rank}, config says {rank}")
        if linear_shapes is None:
            continue
        if module not in linear_shapes:
            refuse(
                f"module {module[:120]!r} does not exist in the base model",
                code="base_model_mismatch",
            )
        out_features, in_features = linear_shapes[module]
        if (a_in, b_out) != (in_features, out_features):
            refuse(
                f"module {module[:120]!r} is {out_features}x{in_features} in the base model, "
                f"the adapter expects {b_out}x{a_in}",
                code="base_model_mismatch",
            )


def _module_rank(module: str, default: int, rank_pattern: dict[str, int] | None) -> int:
    for pattern, rank in (rank_pattern or {}).items():
        if module == pattern or module.endswith("." + pattern):
            return rank
    return default


def _refuser(filename: str) -> Callable[..., NoReturn]:
    def refuse(message: str, code: str = "invalid_bundle") -> NoReturn:
        raise LoraCheckError(f"{filename}: {message}", code=code)

    return refuse
