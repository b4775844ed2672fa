"""What a job service's tasks need at run time: settings, the object store, job records, Redis
and leases. Built once per process (API, worker, CLI); tests build one around fakes."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

from ..jobs import JobStore
from ..lease import Lease
from ..queue import redis_client
from ..settings import AdvisorSettings
from ..store import ObjectStore, open_store

S = TypeVar("S", bound=AdvisorSettings)
R = TypeVar("R", bound="Runtime[Any]")


@dataclass
class Runtime(Generic[S]):
    """A service's runtime; a service adds its own clients by subclassing (the evaluator adds
    its chat endpoints)."""

    settings: S
    store: ObjectStore
    jobs: JobStore
    redis: Any | None = None

    @classmethod
    def from_settings(cls, settings: S) -> Self:
        """The runtime of a service process: the store and Redis its settings name."""
        redis = redis_client(settings.redis_url)
        store = open_store(settings)
        return cls(settings, store, JobStore(store, redis), redis)

    def lease(self, name: str, ttl_s: float) -> Lease:
        """A lease on this runtime's Redis (a process-local one without Redis)."""
        return Lease(self.redis, name, ttl_s)


class PerProcess(Generic[R]):
    """One runtime per process: a Redis client must not cross a fork of the worker pool, so a
    forked child builds its own the first time it asks."""

    def __init__(self, build: Callable[[], R], runtime: R | None = None):
        self._build = build
        self._runtime = runtime
        self._pid = os.getpid() if runtime is not None else None

    def __call__(self) -> R:
        if self._runtime is None or self._pid != os.getpid():
            self._runtime = self._build()
            self._pid = os.getpid()
        return self._runtime
