"""The object store a job writes to: the job's `store_url` if it names one, else the
settings' (`ADVISOR_STORE_URL`), with the settings' credentials either way."""

from __future__ import annotations

from advisor_shared.settings import AdvisorSettings
from advisor_shared.store import ObjectStore, open_store

from .config import TrainingJobConfig


def store_for(config: TrainingJobConfig, settings: AdvisorSettings) -> ObjectStore:
    if config.store_url:
        settings = settings.model_copy(update={"store_url": config.store_url})
    return open_store(settings)
