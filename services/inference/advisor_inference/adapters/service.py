"""Load and unload adapter bundles: store → verify → check → engine → canary → registry.

Only adapters that passed every step are listed and routable. A refused bundle never reaches
the engine, and its unpacked files are removed; the engine keeps serving throughout.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from advisor_shared.bundle import AdapterBundle, BundleRef, read_bundle, resolve_ref
from advisor_shared.errors import BundleError, InvalidNameError, StoreError
from advisor_shared.store import ObjectStore

from ..core.config import Settings
from ..engines.base import Engine
from ..errors import (
    AdapterConflictError,
    AdapterNotFoundError,
    AdapterRefusedError,
    InferenceError,
)
from .canary import CanaryResult, run_canary
from .checks import (
    LoraSpec,
    TemplateCheck,
    check_base_model,
    check_chat_template,
    check_finite_weights,
    check_lora_config,
    check_tensors,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedAdapter:
    """An adapter the engine serves, with what was checked when it was loaded."""

    ref: BundleRef
    base_model_id: str
    base_fingerprint: str
    lora: LoraSpec
    template: TemplateCheck
    canary: CanaryResult
    loaded_at: str
    warnings: tuple[str, ...] = field(default=())

    @property
    def template_mismatch(self) -> bool:
        return not self.template.matches


class AdapterService:
    """The gateway's registry of loaded adapters; one load or unload per name at a time."""

    def __init__(self, store: ObjectStore, engine: Engine, settings: Settings):
        self._store, self._engine, self._settings = store, engine, settings
        self._loaded: dict[str, LoadedAdapter] = {}
        self._busy: dict[str, asyncio.Lock] = {}
        self._reserved = {settings.base_alias, settings.merged_model_name} - {None}

    def list(self) -> list[LoadedAdapter]:
        return [self._loaded[name] for name in sorted(self._loaded)]

    def get(self, name: str) -> LoadedAdapter | None:
        return self._loaded.get(name)

    async def load(self, text: str) -> LoadedAdapter:
        """Load `name@version` (or `name`, the latest); raise a 4xx InferenceError if refused."""
        try:
            ref = BundleRef.parse(text)
        except InvalidNameError as exc:
            raise AdapterRefusedError(str(exc), param="adapter", code="invalid_adapter_name",
                                      status=400) from None  # fmt: skip
        if ref.name in self._reserved:
            raise AdapterConflictError(
                f"{ref.name!r} is the name of a served model", param="adapter"
            )
        async with self._busy.setdefault(ref.name, asyncio.Lock()):
            if ref.name in self._loaded:
                current = self._loaded[ref.name].ref
                raise AdapterConflictError(
                    f"adapter {ref.name!r} is already loaded ({current}); unload it first",
                    param="adapter",
                )
            loaded = await self._load_checked(ref)
            self._loaded[ref.name] = loaded
            log.info("adapter %s loaded (canary %d/%d differ)", loaded.ref,
                     loaded.canary.differing, loaded.canary.prompts)  # fmt: skip
            return loaded

    async def unload(self, name: str) -> LoadedAdapter:
        async with self._busy.setdefault(name, asyncio.Lock()):
            loaded = self._loaded.pop(name, None)
            if loaded is None:
                raise AdapterNotFoundError(f"adapter {name[:100]!r} is not loaded", param="name")
            await self._engine.unload_adapter(name)
            log.info("adapter %s unloaded", loaded.ref)
            return loaded

    async def _load_checked(self, ref: BundleRef) -> LoadedAdapter:
        try:
            ref = await asyncio.to_thread(resolve_ref, self._store, ref)
        except BundleError as exc:
            raise AdapterNotFoundError(str(exc), param="adapter") from None
        except StoreError as exc:
            raise InferenceError(f"object store error: {exc}", status=503,
                                 code="store_unavailable") from None  # fmt: skip
        dest = self._settings.resolved_adapter_dir()
        folder = dest / ref.name / ref.version
        try:
            bundle = await asyncio.to_thread(read_bundle, self._store, ref, dest)
            loaded = await self._check_and_attach(bundle)
        except BundleError as exc:
            _discard(folder)
            raise AdapterRefusedError(str(exc), param="adapter") from None
        except InferenceError:
            _discard(folder)
            raise
        return loaded

    async def _check_and_attach(self, bundle: AdapterBundle) -> LoadedAdapter:
        info = self._engine.info
        settings = self._settings
        check_base_model(bundle, info)
        config = bundle.adapter_config
        if not isinstance(config, dict):
            raise AdapterRefusedError("adapter_config.json must be a JSON object", param="adapter")
        spec = check_lora_config(config, max_rank=settings.max_lora_rank,
                                 allowed_targets=settings.allowed_target_modules)  # fmt: skip
        check_tensors(bundle.tensors, spec, info.linear_shapes, config.get("rank_pattern"))
        check_finite_weights(bundle)
        template = check_chat_template(bundle, info)
        warnings: list[str] = []
        if not template.matches:
            message = _template_message(template)
            if settings.template_mismatch == "refuse":
                raise AdapterRefusedError(message, param="adapter", code="chat_template_mismatch")
            warnings.append(message)
            log.warning("serving %s despite a chat template mismatch: %s", bundle.ref, message)
        name = bundle.ref.name
        try:
            await self._engine.load_adapter(name, bundle.path)
        except InferenceError:
            raise
        except Exception as exc:  # noqa: BLE001 - the engine's own loader refused the weights
            log.warning("engine refused %s: %s", bundle.ref, exc)
            raise AdapterRefusedError(
                f"the engine could not load bundle {bundle.ref}: {str(exc)[:200]}", param="adapter"
            ) from None
        canary = await self._canary(name)
        if not canary.effective:
            message = (f"canary: all {canary.prompts} prompts answer exactly as the base model "
                       "does; the adapter has no visible effect (lm-eval #2432)")  # fmt: skip
            if settings.canary_policy == "refuse":
                await self._engine.unload_adapter(name)
                raise AdapterRefusedError(message, param="adapter", code="adapter_ineffective")
            warnings.append(message)
            log.warning("%s: %s", bundle.ref, message)
        return LoadedAdapter(
            ref=bundle.ref,
            base_model_id=bundle.manifest.base_model.id,
            base_fingerprint=bundle.manifest.base_model.fingerprint,
            lora=spec,
            template=template,
            canary=canary,
            loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
            warnings=tuple(warnings),
        )

    async def _canary(self, name: str) -> CanaryResult:
        try:
            return await run_canary(self._engine, name, self._settings.base_alias,
                                    self._settings.canary_max_tokens)  # fmt: skip
        except Exception:
            await self._engine.unload_adapter(name)
            raise


def _template_message(template: TemplateCheck) -> str:
    serving = template.serving_sha256
    if serving is None:
        return ("the engine's chat template is unknown (set ADVISOR_CHAT_TEMPLATE_SHA256 or serve "
                "a local model folder); cannot confirm the adapter's template")  # fmt: skip
    return (f"chat template mismatch: trained with sha256 {template.trained_sha256[:12]}…, "
            f"serving with {serving[:12]}…")  # fmt: skip


def _discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
