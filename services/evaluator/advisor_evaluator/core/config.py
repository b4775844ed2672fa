"""The evaluator's settings (`ADVISOR_*` environment variables); nothing else reads the environment."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from advisor_shared.models import EMBEDDED_ENCODER, PRODUCTION_ENCODER
from advisor_shared.settings import AdvisorSettings


class JudgeEndpoint(BaseModel):
    """One operator-configured judge endpoint."""

    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(pattern=r"^https?://", max_length=500)
    api_key: SecretStr | None = None


class Settings(AdvisorSettings):
    """Evaluator settings. Defaults that differ from `AdvisorSettings`: none; added fields below."""

    # The inference gateway that serves the candidates (and, by default, the judge).
    inference_url: str = "http://127.0.0.1:8000/v1"
    inference_api_key: SecretStr | None = None
    # Judges on other OpenAI-compatible endpoints, by name (JSON in the environment:
    # `{"name": {"base_url": "https://…/v1", "api_key": "…"}}`). A job names one of these or
    # uses the inference API; it never gives a URL, so the evaluator calls only what the
    # operator configured (no SSRF), and keys never travel in (or get stored with) a job.
    judge_endpoints: dict[
        Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")], JudgeEndpoint
    ] = {}
    # The auditor API (issue 5). Empty: the factuality stage is skipped with that reason.
    auditor_url: str | None = None
    auditor_api_key: SecretStr | None = None
    auditor_poll_interval_s: float = 2.0
    auditor_timeout_s: float = 3600.0
    # BERTScore encoder: the packaged MiniLM (embedded default) or `roberta-large` (paper parity).
    bertscore_encoder: str = EMBEDDED_ENCODER
    # None: 6 layers for the MiniLM, bert-score's own default layer for any other encoder.
    bertscore_num_layers: int | None = None
    # None: rescale with bert-score's baseline for roberta-large only (there is no baseline file
    # for the MiniLM), as in the paper.
    bertscore_rescale: bool | None = None
    # The Celery queue of this service; tests give each run its own so stale messages never mix.
    queue_name: str = "evaluator"
    # Endpoint failures (connection errors, 429, 5xx) are retried with exponential backoff
    # this many times per work unit before the job fails with the reason.
    endpoint_max_retries: int = 6
    endpoint_timeout_s: float = 600.0
    # Lease of each running unit and job step, renewed every third of it: a step whose worker
    # died is found abandoned at most this long after the death (advisor_shared.worker.liveness).
    unit_lease_ttl_s: float = Field(default=15.0, gt=0)
    # How often each worker looks for abandoned steps (Redis only, no store listing). A killed
    # worker's job moves again within `unit_lease_ttl_s` + this (issue 17: <= 60 s in all).
    abandoned_check_interval_s: float = Field(default=5.0, gt=0)
    # The backstop for what leaves no entry (a retry waiting for its countdown in a killed
    # worker's memory): a running job with no activity for this long is driven again (F2),
    # looked for every `reconcile_interval_s` over the store's job records.
    stale_job_after_s: float = 300.0
    reconcile_interval_s: float = 60.0
    max_request_bytes: int = 8 * 1024 * 1024
    # Without Redis (embedded default, `advisor eval`): worker threads in the process. Several
    # requests in flight let the gateway batch them; the work itself is HTTP waiting.
    inprocess_concurrency: int = 4

    def _requires_api_keys(self) -> bool:
        return True

    def _secret_fields(self) -> list[tuple[str, SecretStr | None]]:
        found = super()._secret_fields()
        for name, endpoint in self.judge_endpoints.items():
            if endpoint.api_key is not None:
                found.append((f"judge_endpoints[{name}].api_key", endpoint.api_key))
        return found

    @property
    def bertscore_layers(self) -> int | None:
        if self.bertscore_num_layers is not None:
            return self.bertscore_num_layers
        return 6 if self.bertscore_encoder == EMBEDDED_ENCODER else None

    @property
    def bertscore_rescale_with_baseline(self) -> bool:
        if self.bertscore_rescale is not None:
            return self.bertscore_rescale
        return self.bertscore_encoder == PRODUCTION_ENCODER
