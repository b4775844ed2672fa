"""Admin: `GET/POST /v1/adapters`, `DELETE /v1/adapters/{name}` (load from the store, unload)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ...adapters.service import LoadedAdapter
from ...errors import InferenceError
from ...schemas import (
    AdapterCreate,
    AdapterList,
    AdapterPublic,
    CanaryPublic,
    ChatTemplatePublic,
)
from ..deps import AdaptersDep, MetricsDep, admin_only

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
        ),  # fmt: skip
        loaded_at=loaded.loaded_at,
        warnings=list(loaded.warnings),
    )


@router.get("/v1/adapters")
async def list_adapters(adapters: AdaptersDep) -> AdapterList:
    """Loaded adapters with their checks, canary result and template flag."""
    return AdapterList(data=[adapter_public(a) for a in adapters.list()])


@router.post("/v1/adapters", status_code=201, dependencies=[Depends(admin_only)])
async def load_adapter(
    body: AdapterCreate, adapters: AdaptersDep, metrics: MetricsDep
) -> AdapterPublic:
    """Load `name@version` (or the latest `name`) from the store, verified and canaried."""
    try:
        loaded = await adapters.load(body.adapter)
    except InferenceError as exc:
        metrics.adapter_loads.labels(exc.code or "refused").inc()
        raise
    metrics.adapter_loads.labels("loaded").inc()
    return adapter_public(loaded)


@router.delete("/v1/adapters/{name}", dependencies=[Depends(admin_only)])
async def unload_adapter(name: str, adapters: AdaptersDep) -> AdapterPublic:
    """Unload an adapter; requests already running on it finish first."""
    return adapter_public(await adapters.unload(name))
