"""Checks a verified bundle must pass before the engine sees it (docs/reliability.md, F6).

`read_bundle` has already matched every file to the manifest's sha256 and parsed the safetensors
header defensively; here the bundle is compared with what the engine serves: base fingerprint, LoRA
rank and target modules, tensor names and shapes, and the chat template (docs/design.md, lesson 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from advisor_shared import lora_checks
from advisor_shared.bundle import AdapterBundle
from advisor_shared.chat_template import template_fingerprint
from advisor_shared.lora_checks import LoraCheckError, LoraSpec
from advisor_shared.safetensors_header import TensorInfo, non_finite_tensors

from ..engines.base import EngineInfo
from ..errors import AdapterRefusedError


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
            param="adapter",
            code="base_model_mismatch",
        )


def check_lora_config(
    config: dict[str, Any], *, max_rank: int, allowed_targets: Iterable[str]
) -> LoraSpec:
    """The adapter_config must describe a plain LoRA on allowed projections, rank ≤ max_rank."""
    with _refused_as_422():
        return lora_checks.check_lora_config(
            config, max_rank=max_rank, allowed_targets=allowed_targets
        )


def check_tensors(
    tensors: dict[str, TensorInfo],
    spec: LoraSpec,
    linear_shapes: dict[str, tuple[int, int]] | None,
    rank_pattern: dict[str, int] | None = None,
) -> None:
    """Every tensor is a LoRA A/B pair on an allowed module of the base, with matching shapes."""
    with _refused_as_422():
        lora_checks.check_tensors(tensors, spec, linear_shapes, rank_pattern)


def check_finite_weights(bundle: AdapterBundle) -> None:
    """Every LoRA weight must be a finite number. A diverged run leaves NaN or infinite weights
    in a well-formed bundle; served, they turn every answer into garbage, which the canary
    would even count as the adapter's effect."""
    found = non_finite_tensors(bundle.path / "adapter_model.safetensors")
    if found:
        raise AdapterRefusedError(
            f"adapter_model.safetensors: {len(found)} tensor(s) hold NaN or infinite values "
            f"(e.g. {found[0][:100]}); was the run diverging?",
            param="adapter",
            code="non_finite_weights",
        )


def check_chat_template(bundle: AdapterBundle, info: EngineInfo) -> TemplateCheck:
    """Compare the template the adapter was trained with to the one the engine renders."""
    recorded = bundle.manifest.chat_template_sha256
    if template_fingerprint(bundle.chat_template) != recorded:
        raise AdapterRefusedError(
            f"bundle {bundle.ref}: chat_template.jinja does not match the manifest's template sha256",
            param="adapter",
        )
    return TemplateCheck(trained_sha256=recorded, serving_sha256=info.chat_template_sha256)


@contextmanager
def _refused_as_422() -> Iterator[None]:
    try:
        yield
    except LoraCheckError as exc:
        raise AdapterRefusedError(exc.message, param="adapter", code=exc.code) from None
