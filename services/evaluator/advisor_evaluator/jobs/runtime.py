"""What the domain code needs at run time: settings, store, job records, endpoints.

Built once per process (API, worker, CLI); tests build one around fakes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from advisor_shared.jobs import JobStore
from advisor_shared.queue import redis_client
from advisor_shared.store import ObjectStore, open_store

from ..core.config import Settings
from ..errors import UnknownJudgeEndpoint
from ..generation.chat_endpoint import ChatEndpoint
from .results import JobResults

EndpointFactory = Callable[[str, str | None, float], ChatEndpoint]


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


@dataclass
class Runtime:
    settings: Settings
    store: ObjectStore
    jobs: JobStore
    redis: Any | None = None
    endpoint_factory: EndpointFactory = ChatEndpoint
    _endpoints: dict[tuple[str, bool], ChatEndpoint] = field(default_factory=dict)

    def _endpoint(self, base_url: str, api_key: str | None) -> ChatEndpoint:
        cache_key = (base_url, api_key is not None)
        if cache_key not in self._endpoints:
            self._endpoints[cache_key] = self.endpoint_factory(
                base_url, api_key, self.settings.endpoint_timeout_s
            )
        return self._endpoints[cache_key]

    def inference(self) -> ChatEndpoint:
        """The gateway that serves the candidates."""
        return self._endpoint(self.settings.inference_url, _secret(self.settings.inference_api_key))

    def judge(self, endpoint: str | None) -> ChatEndpoint:
        """The judge's endpoint: the gateway when `endpoint` is empty, else the configured one of
        that name. Clients exist only for configured URLs, so the cache is bounded by settings."""
        if endpoint is None:
            return self.inference()
        configured = self.settings.judge_endpoints.get(endpoint)
        if configured is None:
            raise UnknownJudgeEndpoint(endpoint)
        return self._endpoint(configured.base_url, _secret(configured.api_key))

    def results(self, job_id: str) -> JobResults:
        return JobResults(self.store, job_id)

    def heartbeat(self, job_id: str) -> None:
        """Mark the job as alive for the reconciler (a Redis key that expires when work stops)."""
        if self.redis is not None:
            self.redis.set(
                f"advisor:evaluator:heartbeat:{job_id}",
                "1",
                ex=int(self.settings.stale_job_after_s),
            )

    @contextmanager
    def keep_alive(self, job_id: str) -> Iterator[None]:
        """Refresh the job's heartbeat while the block runs (a long generation is progress)."""
        if self.redis is None:
            yield
            return
        stop = threading.Event()
        interval = self.settings.stale_job_after_s / 3

        def beat() -> None:
            while not stop.wait(interval):
                self.heartbeat(job_id)

        self.heartbeat(job_id)
        thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    def is_alive(self, job_id: str) -> bool:
        if self.redis is None:
            return True
        return bool(self.redis.exists(f"advisor:evaluator:heartbeat:{job_id}"))


def build_runtime(settings: Settings) -> Runtime:
    """The runtime of a service process, from its settings."""
    redis = redis_client(settings.redis_url)
    store = open_store(settings)
    return Runtime(settings, store, JobStore(store, redis), redis)
