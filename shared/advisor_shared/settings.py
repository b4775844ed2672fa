"""Settings base class: every service's settings derive from `AdvisorSettings`.

Nothing else in the code base reads `os.environ`. Secrets have no defaults, and placeholder
values are refused outside development so a copied `.env.example` cannot reach production.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "password", "minioadmin", "admin", "test", "example"}
)


class AdvisorSettings(BaseSettings):
    """Common settings; environment variables are `ADVISOR_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="ADVISOR_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    # Object store: a local folder (embedded default) or an S3 API endpoint (MinIO).
    store_url: str = "file://var/store"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_secure: bool = False
    s3_region: str | None = None
    # Queue: empty means an in-process worker on an in-memory broker.
    redis_url: str | None = None
    # Where models are materialised and cached.
    cache_dir: Path = Path(".cache/advisor")
    # Bearer keys accepted by the HTTP APIs (comma-separated in the environment).
    api_keys: Annotated[list[SecretStr], NoDecode] = []
    # Admin keys (comma-separated): load/unload adapters, start training. They also work where
    # an app key does. In development with none set, the app keys are admins (the embedded
    # default runs with one key); elsewhere app keys never are.
    admin_api_keys: Annotated[list[SecretStr], NoDecode] = []
    # HTTP services: a request (headers and body) must arrive within this many seconds of its
    # first byte, or the connection is closed (`advisor_shared.http_protocol`: slow clients).
    request_read_timeout_s: float = Field(default=15.0, gt=0)

    @field_validator("api_keys", "admin_api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> AdvisorSettings:
        if self.environment == "development":
            return self
        for name, value in self._secret_fields():
            if (
                value is not None
                and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS
            ):
                raise ValueError(
                    f"ADVISOR_{name.upper()} holds a placeholder value; set a real secret "
                    f"(environment={self.environment})"
                )
        if self.api_keys == [] and self._requires_api_keys():
            raise ValueError(f"ADVISOR_API_KEYS is empty (environment={self.environment})")
        return self

    def _secret_fields(self) -> list[tuple[str, SecretStr | None]]:
        found: list[tuple[str, SecretStr | None]] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) or value is None and "key" in name:
                found.append((name, value))
            elif isinstance(value, list):
                found.extend((name, item) for item in value if isinstance(item, SecretStr))
        return found

    def effective_admin_keys(self) -> list[SecretStr]:
        """The keys admin routes accept (see `admin_api_keys`)."""
        if not self.admin_api_keys and self.environment == "development":
            return list(self.api_keys)
        return list(self.admin_api_keys)

    def _requires_api_keys(self) -> bool:
        """Services with an HTTP API override this to insist on keys outside development."""
        return False
