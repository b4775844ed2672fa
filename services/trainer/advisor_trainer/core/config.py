"""The trainer service's settings (`ADVISOR_*` environment variables); nothing else reads the
environment."""

from __future__ import annotations

from pathlib import Path

from advisor_shared.settings import AdvisorSettings


class Settings(AdvisorSettings):
    """Trainer settings on top of the shared ones (store, Redis, cache, API keys)."""

    # Datasets named in HTTP training jobs are resolved under this folder only, so a request
    # cannot make the worker read arbitrary files.
    trainer_data_dir: Path = Path("data")
    # Where the worker stages bundles and exports.
    trainer_output_dir: Path = Path("var/trainer")
    # Lease time-to-live; renewed every third of it while a job runs (RELIABILITY.md F1).
    trainer_lease_ttl_s: float = 60.0

    def _requires_api_keys(self) -> bool:
        return True
