"""Load and unload adapter bundles: store → verify → check → engine → canary → registry.

Only adapters that passed every step are listed and routable. A refused bundle never reaches
the engine, and its unpacked files are removed; the engine keeps serving throughout. Adapters
loaded through the API are recorded in the store (`LoadedSet`) and loaded again at start-up.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
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
from .loaded_set import LoadedSet

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
    """The gateway's registry of loaded adapters, each served as `name@version`; several
    versions of one name side by side. One load or unload per name at a time."""

    def __init__(self, store: ObjectStore, engine: Engine, settings: Settings):
        self._store, self._engine, self._settings = store, engine, settings
        self._loaded: dict[str, LoadedAdapter] = {}
        self._busy: dict[str, asyncio.Lock] = {}
        self._reserved = {settings.base_alias, settings.merged_model_name} - {None}
        self.recorded = (
            LoadedSet(store, settings.adapter_set) if settings.persist_adapters else None
        )

    # Below this method, `list` in the class body names it: annotations say `builtins.list`.
    def list(self) -> list[LoadedAdapter]:
        return [self._loaded[key] for key in sorted(self._loaded)]

    def get(self, model: str) -> LoadedAdapter | None:
        """The adapter served as `model`: `name@version`, or `name` for its newest loaded
        version."""
        if "@" in model:
            return self._loaded.get(model)
        versions = self.versions_of(model)
        return versions[-1] if versions else None

    def versions_of(self, name: str) -> builtins.list[LoadedAdapter]:
        return [a for a in self.list() if a.ref.name == name]

    async def load(self, text: str, *, record: bool = False) -> LoadedAdapter:
        """Load `name@version` (or `name`, the latest); raise a 4xx InferenceError if refused.
        With `record`, the load is written to the store's loaded set (API loads are)."""
        try:
            ref = BundleRef.parse(text)
        except InvalidNameError as exc:
            raise AdapterRefusedError(
                str(exc), param="adapter", code="invalid_adapter_name", status=400
            ) from None
        if ref.name in self._reserved:
            raise AdapterConflictError(
                f"{ref.name!r} is the name of a served model", param="adapter"
            )
        async with self._busy.setdefault(ref.name, asyncio.Lock()):
            ref = await self._resolve(ref)
            if str(ref) in self._loaded:
                raise AdapterConflictError(
                    f"adapter {ref} is already loaded; unload it first", param="adapter"
                )
            loaded = await self._load_checked(ref)
            self._loaded[str(ref)] = loaded
            log.info(
                "adapter %s loaded (canary %d/%d differ)",
                loaded.ref,
                loaded.canary.differing,
                loaded.canary.prompts,
            )
            if record and self.recorded is not None:
                await self._record(loaded)
            return loaded

    async def unload(self, text: str) -> builtins.list[LoadedAdapter]:
        """Unload `name@version`, or every loaded version of `name`; forget their records."""
        name = text.partition("@")[0]
        async with self._busy.setdefault(name, asyncio.Lock()):
            chosen = (
                [self._loaded[text]]
                if text in self._loaded
                else ([] if "@" in text else self.versions_of(text))
            )
            if not chosen:
                raise AdapterNotFoundError(f"adapter {text[:100]!r} is not loaded", param="name")
            for loaded in chosen:
                del self._loaded[str(loaded.ref)]
                await self._engine.unload_adapter(str(loaded.ref))
                log.info("adapter %s unloaded", loaded.ref)
                if self.recorded is not None:
                    try:
                        await asyncio.to_thread(self.recorded.remove, loaded.ref)
                    except StoreError as exc:
                        log.error("could not forget %s in the store: %s", loaded.ref, exc)
            return chosen

    async def restore(self) -> builtins.list[str]:
        """Load every recorded adapter not loaded yet (a restarted gateway); returns the
        problems, one line each. A refused record is kept: it is reported at every start
        until it is unloaded (`DELETE /v1/adapters/...`) or loads again."""
        if self.recorded is None:
            return []
        try:
            refs = await asyncio.to_thread(self.recorded.refs)
        except StoreError as exc:
            return [f"recorded adapters: the store did not answer ({exc})"]
        problems = []
        for ref in refs:
            if str(ref) in self._loaded:
                continue
            try:
                await self.load(str(ref))
            except InferenceError as exc:
                problems.append(f"{ref} (recorded): {exc.message}")
        return problems

    async def _resolve(self, ref: BundleRef) -> BundleRef:
        try:
            return await asyncio.to_thread(resolve_ref, self._store, ref)
        except BundleError as exc:
            raise AdapterNotFoundError(str(exc), param="adapter") from None
        except StoreError as exc:
            raise InferenceError(
                f"object store error: {exc}", status=503, code="store_unavailable"
            ) from None

    async def _record(self, loaded: LoadedAdapter) -> None:
        assert self.recorded is not None
        try:
            await asyncio.to_thread(self.recorded.add, loaded.ref)
        except StoreError as exc:
            # Served now, but a restart will not bring it back: say so where it is listed.
            message = f"not recorded in the store, a restart will not load it again ({exc})"
            log.error("adapter %s: %s", loaded.ref, message)
            self._loaded[str(loaded.ref)] = dataclasses.replace(
                loaded, warnings=(*loaded.warnings, message)
            )

    async def _load_checked(self, ref: BundleRef) -> LoadedAdapter:
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
        spec = check_lora_config(
            config, max_rank=settings.max_lora_rank, allowed_targets=settings.allowed_target_modules
        )
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
        name = str(bundle.ref)  # the engine serves it as name@version
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
            message = (
                f"canary: all {canary.prompts} prompts answer exactly as the base model "
                "does; the adapter has no visible effect (lm-eval #2432)"
            )
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
            return await run_canary(
                self._engine, name, self._settings.base_alias, self._settings.canary_max_tokens
            )
        except Exception:
            await self._engine.unload_adapter(name)
            raise


def _template_message(template: TemplateCheck) -> str:
    serving = template.serving_sha256
    if serving is None:
        return (
            "the engine's chat template is unknown (set ADVISOR_CHAT_TEMPLATE_SHA256 or serve "
            "a local model folder); cannot confirm the adapter's template"
        )
    return (
        f"chat template mismatch: trained with sha256 {template.trained_sha256[:12]}…, "
        f"serving with {serving[:12]}…"
    )


def _discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
