"""`GET /v1/adapters` (loaded and stored bundles); admin: `POST /v1/adapters` (load from the
store), `DELETE /v1/adapters/{name[@version]}` (unload)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends

from advisor_shared.bundle import BundleSummary, list_bundles
from advisor_shared.errors import StoreError

from ...adapters.service import LoadedAdapter
from ...errors import InferenceError
from ...schemas import (
    AdapterCreate,
    AdapterList,
    AdapterPublic,
    CanaryPublic,
    ChatTemplatePublic,
    StoredBundlePublic,
)
from ..deps import AdaptersDep, EngineDep, MetricsDep, StoreDep, admin_only

router = APIRouter(tags=["adapters"])


def adapter_public(loaded: LoadedAdapter) -> AdapterPublic:
    return AdapterPublic(
        name=loaded.ref.name,
        version=loaded.ref.version,
        base_model=loaded.base_model_id,
        base_fingerprint=loaded.base_fingerprint,
        rank=loaded.lora.rank,
        lora_alpha=loaded.lora.alpha,
        target_modules=list(loaded.lora.target_modules),
        chat_template=ChatTemplatePublic(
            trained_sha256=loaded.template.trained_sha256,
            serving_sha256=loaded.template.serving_sha256,
            match=loaded.template.matches,
        ),
        template_mismatch=loaded.template_mismatch,
        canary=CanaryPublic(
            prompts=loaded.canary.prompts,
            differing=loaded.canary.differing,
            effective=loaded.canary.effective,
        ),
        loaded_at=loaded.loaded_at,
        warnings=list(loaded.warnings),
    )


@router.get("/v1/adapters")
async def list_adapters(
    adapters: AdaptersDep, engine: EngineDep, store: StoreDep, stored: bool = True
) -> AdapterList:
    """Loaded adapters with their checks, canary result and template flag; with `stored`
    (the default), every committed bundle in the store and whether it is loaded."""
    loaded = adapters.list()
    listing = None
    if stored:
        try:
            bundles = await asyncio.to_thread(list_bundles, store)
        except StoreError as exc:
            raise InferenceError(
                f"object store error: {exc}", status=503, code="store_unavailable"
            ) from None
        served = {str(a.ref) for a in loaded}
        fingerprint = engine.info.base_fingerprint if engine.models() else None
        listing = [_stored_public(b, served, fingerprint) for b in bundles]
    return AdapterList(data=[adapter_public(a) for a in loaded], stored=listing)


def _stored_public(
    bundle: BundleSummary, served: set[str], fingerprint: str | None
) -> StoredBundlePublic:
    m = bundle.manifest
    return StoredBundlePublic(
        name=bundle.name,
        version=bundle.version,
        base_model=m.base_model.id if m else None,
        base_fingerprint=m.base_model.fingerprint if m else None,
        chat_template_sha256=m.chat_template_sha256 if m else None,
        created_at=m.created_at if m else None,
        same_base=m is not None and m.base_model.fingerprint == fingerprint,
        loaded=bundle.ref in served,
        problem=bundle.problem,
    )


@router.post("/v1/adapters", status_code=201, dependencies=[Depends(admin_only)])
async def load_adapter(
    body: AdapterCreate, adapters: AdaptersDep, metrics: MetricsDep
) -> AdapterPublic:
    """Load `name@version` (or the latest `name`) from the store, verified and canaried; it
    is recorded in the store and loaded again when the gateway restarts."""
    try:
        loaded = await adapters.load(body.adapter, record=True)
    except InferenceError as exc:
        metrics.adapter_loads.labels(exc.code or "refused").inc()
        raise
    metrics.adapter_loads.labels("loaded").inc()
    return adapter_public(adapters.get(str(loaded.ref)) or loaded)


@router.delete("/v1/adapters/{adapter}", dependencies=[Depends(admin_only)])
async def unload_adapter(adapter: str, adapters: AdaptersDep) -> AdapterList:
    """Unload `name@version`, or every loaded version of `name`; requests already running on
    them finish first. Their records go too: a restart does not load them again."""
    return AdapterList(data=[adapter_public(a) for a in await adapters.unload(adapter)])
