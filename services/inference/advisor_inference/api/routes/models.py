"""`GET /v1/models`: the base alias, every loaded adapter, the merged model."""

from __future__ import annotations

import time

from fastapi import APIRouter

from ...catalog import ServedModel, find_model, served_models
from ...schemas import ModelList, ModelPublic
from ..deps import AdaptersDep, EngineDep, SettingsDep

router = APIRouter(tags=["models"])
STARTED = int(time.time())


def _public(model: ServedModel, base_alias: str) -> ModelPublic:
    adapter = str(model.adapter.ref) if model.adapter is not None else None
    return ModelPublic(
        id=model.id, created=STARTED, parent=model.parent(base_alias), adapter=adapter
    )


@router.get("/v1/models")
async def list_models(settings: SettingsDep, engine: EngineDep, adapters: AdaptersDep) -> ModelList:
    """List the models this gateway serves."""
    models = served_models(settings, engine, adapters)
    return ModelList(data=[_public(m, settings.base_alias) for m in models])


@router.get("/v1/models/{model}")
async def retrieve_model(
    model: str, settings: SettingsDep, engine: EngineDep, adapters: AdaptersDep
) -> ModelPublic:
    """One served model by name."""
    return _public(find_model(model, settings, engine, adapters), settings.base_alias)
