"""What the API and the worker share in one process: settings, the object store, job records
and Redis (when configured)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from advisor_shared.jobs import JobStore
from advisor_shared.queue import redis_client
from advisor_shared.store import ObjectStore, open_store

from .core.config import Settings


@dataclass
class Runtime:
    settings: Settings

    @cached_property
    def store(self) -> ObjectStore:
        return open_store(self.settings)

    @cached_property
    def redis(self) -> Any | None:
        return redis_client(self.settings.redis_url)

    @cached_property
    def jobs(self) -> JobStore:
        return JobStore(self.store, self.redis)
