"""Which model names the gateway serves: the base alias, each loaded adapter, the merged model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .adapters.service import AdapterService, LoadedAdapter
from .core.config import Settings
from .engines.base import Engine
from .errors import ModelNotFoundError


@dataclass(frozen=True)
class ServedModel:
    id: str
    kind: Literal["base", "adapter", "merged"]
    adapter: LoadedAdapter | None = None

    def parent(self, base_alias: str) -> str | None:
        return None if self.kind == "base" else base_alias


def served_models(
    settings: Settings, engine: Engine, adapters: AdapterService
) -> list[ServedModel]:
    """Adapters appear only once every load check and the canary are done."""
    if not engine.models():
        return []
    models = [ServedModel(settings.base_alias, "base")]
    models += [ServedModel(a.ref.name, "adapter", a) for a in adapters.list()]
    if settings.merged_model_name and settings.merged_model_name in engine.models():
        models.append(ServedModel(settings.merged_model_name, "merged"))
    return models


def find_model(
    name: str, settings: Settings, engine: Engine, adapters: AdapterService
) -> ServedModel:
    for model in served_models(settings, engine, adapters):
        if model.id == name:
            return model
    raise ModelNotFoundError(f"the model `{name[:100]}` does not exist", param="model")
