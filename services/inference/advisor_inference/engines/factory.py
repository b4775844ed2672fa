"""Build the engine the settings name. The HF engine is imported only when chosen: the gateway
image in front of vLLM has no torch."""

from __future__ import annotations

from pathlib import Path

from advisor_shared.chat_template import template_fingerprint
from advisor_shared.models import resolve_base_model

from ..core.config import Settings
from .base import Engine
from .model_files import hub_snapshot, read_chat_template, read_linear_shapes


def build_engine(settings: Settings) -> Engine:
    """`ADVISOR_ENGINE=hf` (in-process transformers) or `vllm` (forward to vLLM)."""
    if settings.engine == "hf":
        resolved = resolve_base_model(settings.base_model, settings.cache_dir)
        fingerprint = settings.base_fingerprint or resolved.fingerprint
        from .hf import HFEngine

        merged = settings.merged_model_path
        return HFEngine(
            resolved.location,
            base_alias=settings.base_alias,
            base_fingerprint=fingerprint,
            merged_path=str(merged) if merged and settings.merged_model_name else None,
            merged_name=settings.merged_model_name,
            device=settings.device,
            dtype=settings.dtype,
            max_batch_size=settings.max_batch_size,
            batch_window_ms=settings.batch_window_ms,
            max_model_len=settings.max_model_len,
            default_max_tokens=settings.default_max_tokens,
            torch_threads=settings.torch_threads,
            decode=settings.decode,
            quantization=settings.quantization,
        )
    from .vllm import VllmEngine

    # The gateway in front of vLLM may hold no copy of the model: with a hub id and an explicit
    # ADVISOR_BASE_FINGERPRINT nothing needs resolving.
    local = Path(settings.base_model).expanduser()
    folder = local if local.is_dir() else None
    fingerprint = (
        settings.base_fingerprint
        or resolve_base_model(settings.base_model, settings.cache_dir).fingerprint
    )
    return VllmEngine(
        url=settings.vllm_url,
        served_model=settings.vllm_served_model or settings.base_model,
        base_alias=settings.base_alias,
        base_model=settings.base_model,
        base_fingerprint=fingerprint,
        chat_template_sha256=settings.chat_template_sha256,
        template_source=lambda: engine_template_sha256(settings),
        linear_shapes=read_linear_shapes(folder) if folder else None,
        adapter_dir=settings.resolved_adapter_dir(),
        remote_adapter_dir=settings.vllm_adapter_dir,
        merged_name=settings.merged_model_name,
        merged_url=settings.vllm_merged_url,
        timeout_s=settings.vllm_timeout_s,
    )


def engine_template_sha256(settings: Settings) -> str | None:
    """The sha256 of the chat template vLLM renders, from the files it loads: the base model's
    folder, or its snapshot in vLLM's Hugging Face cache (`VLLM_HF_CACHE`, mounted read-only
    into the gateway). None while neither holds it (vLLM still downloading)."""
    local = Path(settings.base_model).expanduser()
    folder: Path | None = local if local.is_dir() else None
    if folder is None and settings.vllm_hf_cache is not None:
        folder = hub_snapshot(settings.vllm_hf_cache, settings.base_model)
    template = read_chat_template(folder) if folder is not None else None
    return template_fingerprint(template) if template is not None else None
