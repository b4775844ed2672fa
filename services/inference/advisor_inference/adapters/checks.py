"""Checks a verified bundle must pass before the engine sees it (docs/reliability.md, F6).

`read_bundle` has already matched every file to the manifest's sha256 and parsed the safetensors
header defensively; here the bundle is compared with what the engine serves: base fingerprint, LoRA
rank and target modules, tensor names and shapes, and the chat template (docs/design.md, lesson 1).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

from advisor_shared.bundle import AdapterBundle
from advisor_shared.chat_template import template_fingerprint
from advisor_shared.safetensors_header import TensorInfo, non_finite_tensors

from ..engines.base import EngineInfo
from ..errors import AdapterRefusedError

# PEFT saves LoRA weights as `base_model.model.<module path>.lora_{A,B}.weight`.
LORA_TENSOR = re.compile(
    r"^base_model\.model\.(?P<module>[A-Za-z0-9_.]+)\.lora_(?P<ab>[AB])\.weight$"
)
FLOAT_DTYPES = frozenset({"F32", "F16", "BF16"})


@dataclass(frozen=True)
class LoraSpec:
    rank: int
    alpha: float
    target_modules: tuple[str, ...]


@dataclass(frozen=True)
class TemplateCheck:
    trained_sha256: str
    serving_sha256: str | None

    @property
    def matches(self) -> bool:
        return self.trained_sha256 == self.serving_sha256


def check_base_model(bundle: AdapterBundle, info: EngineInfo) -> None:
    expected = bundle.manifest.base_model.fingerprint
    if expected != info.base_fingerprint:
        raise AdapterRefusedError(
            f"bundle {bundle.ref} was trained on base model {bundle.manifest.base_model.id[:100]!r} "
            f"(fingerprint {expected[:24]}…), this engine serves {info.base_fingerprint[:24]}…",
            param="adapter", code="base_model_mismatch",
        )  # fmt: skip


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
        refuse(f"LoRA rank {max(r for r in ranks if isinstance(r, int))} exceeds the maximum "
               f"{max_rank} this engine serves", code="rank_too_high")  # fmt: skip
    alpha = config.get("lora_alpha")
    if not isinstance(alpha, int | float) or isinstance(alpha, bool):
        refuse("lora_alpha must be a number")
    targets = config.get("target_modules")
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
        refuse("target_modules must be a non-empty list of module names (no regex)")
    allowed = set(allowed_targets)
    unknown = sorted(set(targets) - allowed)
    if unknown:
        refuse(f"target modules {', '.join(unknown)[:120]} are not allowed "
               f"(allowed: {', '.join(sorted(allowed))})", code="target_modules_not_allowed")  # fmt: skip
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
            refuse(f"module {module[:120]!r} does not exist in the base model",
                   code="base_model_mismatch")  # fmt: skip
        out_features, in_features = linear_shapes[module]
        if (a_in, b_out) != (in_features, out_features):
            refuse(f"module {module[:120]!r} is {out_features}x{in_features} in the base model, "
                   f"the adapter expects {b_out}x{a_in}", code="base_model_mismatch")  # fmt: skip


def check_finite_weights(bundle: AdapterBundle) -> None:
    """Every LoRA weight must be a finite number. A diverged run leaves NaN or infinite weights
    in a well-formed bundle; served, they turn every answer into garbage, which the canary
    would even count as the adapter's effect."""
    found = non_finite_tensors(bundle.path / "adapter_model.safetensors")
    if found:
        raise AdapterRefusedError(
            f"adapter_model.safetensors: {len(found)} tensor(s) hold NaN or infinite values "
            f"(e.g. {found[0][:100]}); was the run diverging?",
            param="adapter", code="non_finite_weights",
        )  # fmt: skip


def check_chat_template(bundle: AdapterBundle, info: EngineInfo) -> TemplateCheck:
    """Compare the template the adapter was trained with to the one the engine renders."""
    recorded = bundle.manifest.chat_template_sha256
    if template_fingerprint(bundle.chat_template) != recorded:
        raise AdapterRefusedError(
            f"bundle {bundle.ref}: chat_template.jinja does not match the manifest's template sha256",
            param="adapter",
        )  # fmt: skip
    return TemplateCheck(trained_sha256=recorded, serving_sha256=info.chat_template_sha256)


def _module_rank(module: str, default: int, rank_pattern: dict[str, int] | None) -> int:
    for pattern, rank in (rank_pattern or {}).items():
        if module == pattern or module.endswith("." + pattern):
            return rank
    return default


def _refuser(filename: str) -> Callable[..., NoReturn]:
    def refuse(message: str, code: str = "invalid_bundle") -> NoReturn:
        raise AdapterRefusedError(f"{filename}: {message}", param="adapter", code=code)

    return refuse
