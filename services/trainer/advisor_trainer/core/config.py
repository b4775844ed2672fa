"""The trainer service's settings (`ADVISOR_*` environment variables); nothing else reads the
environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from advisor_shared.models import PRODUCTION_BASE
from advisor_shared.settings import AdvisorSettings


class Settings(AdvisorSettings):
    """Trainer settings on top of the shared ones (store, Redis, cache, API keys)."""

    # Datasets named in HTTP training jobs are resolved under this folder only, so a request
    # cannot make the worker read arbitrary files.
    trainer_data_dir: Path = Path("data")
    # Where the worker stages bundles and exports.
    trainer_output_dir: Path = Path("var/trainer")
    # Lease time-to-live; renewed every third of it while a job runs (docs/reliability.md, F1).
    trainer_lease_ttl_s: float = 60.0
    # The worker logs a step line (loss, LR, tokens/s, ETA) at most this often, besides the
    # first and the last step of a session; 0 logs every step.
    trainer_log_interval_s: float = Field(default=30.0, ge=0)
    # What an HTTP job may train (the CLI is not limited): base models besides the embedded one,
    # as hub ids (comma-separated) and local folders under `trainer_models_dir` (none if unset).
    trainer_hub_models: Annotated[list[str], NoDecode] = [PRODUCTION_BASE]
    trainer_models_dir: Path | None = None
    # Ceilings on an HTTP job's sizes, each refused by name with a 400 above it.
    trainer_max_steps: int = Field(default=100_000, ge=1)
    trainer_max_micro_batch_size: int = Field(default=64, ge=1)
    trainer_max_seq_len: int = Field(default=32_768, ge=16)
    trainer_max_gradient_accumulation_steps: int = Field(default=1024, ge=1)
    trainer_max_epochs: int = Field(default=100, ge=1)
    trainer_max_session_budget_s: float = Field(default=48 * 3600.0, gt=0)

    @field_validator("trainer_hub_models", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    def _requires_api_keys(self) -> bool:
        return True
