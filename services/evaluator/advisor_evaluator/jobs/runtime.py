"""What the evaluator's jobs need at run time: the kit's runtime (settings, store, job records,
Redis) plus the chat endpoints the units call and the job's heartbeat.

Built once per process (API, worker, CLI); tests build one around fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from advisor_shared.worker import Liveness
from advisor_shared.worker import Runtime as JobRuntime

from ..core.config import Settings
from ..errors import UnknownJudgeEndpoint
from ..generation.chat_endpoint import ChatEndpoint
from .results import JobResults

EndpointFactory = Callable[[str, str | None, float], ChatEndpoint]
SERVICE = "evaluator"


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def liveness(settings: Settings) -> Liveness:
    """The progress signs of this deployment's evaluations (heartbeats, steps in flight)."""
    return Liveness(SERVICE, settings.queue_name, settings.stale_job_after_s)


@dataclass
class Runtime(JobRuntime[Settings]):
    endpoint_factory: EndpointFactory = ChatEndpoint
    _endpoints: dict[tuple[str, bool], ChatEndpoint] = field(default_factory=dict)

    @property
    def liveness(self) -> Liveness:
        return liveness(self.settings)

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
        self.liveness.heartbeat(self.redis, job_id)

    @contextmanager
    def keep_alive(self, job_id: str) -> Iterator[None]:
        """Refresh the job's heartbeat while the block runs (a long generation is progress)."""
        with self.liveness.keep_alive(self.redis, job_id):
            yield

    def is_alive(self, job_id: str) -> bool:
        return self.liveness.is_alive(self.redis, job_id)


def build_runtime(settings: Settings) -> Runtime:
    """The runtime of a service process, from its settings."""
    return Runtime.from_settings(settings)
