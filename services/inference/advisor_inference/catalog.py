"""Which model names the gateway serves: the base alias, each loaded adapter as `name@version`
(several versions side by side), each adapter name alone for its newest loaded version, and
the merged model."""

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

    def engine_id(self) -> str:
        """The name the engine knows it by: an adapter's `name@version`."""
        return str(self.adapter.ref) if self.adapter is not None else self.id


def served_models(
    settings: Settings, engine: Engine, adapters: AdapterService
) -> list[ServedModel]:
    """Adapters appear only once every load check and the canary are done."""
    if not engine.models():
        return []
    models = [ServedModel(settings.base_alias, "base")]
    loaded = adapters.list()
    for name in sorted({a.ref.name for a in loaded}):
        newest = adapters.get(name)
        models.append(ServedModel(name, "adapter", newest))
    models += [ServedModel(str(a.ref), "adapter", a) for a in loaded]
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
