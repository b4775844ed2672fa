"""Settings: env-named fields, comma-separated keys, placeholder secrets refused outside dev."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from advisor_shared.settings import AdvisorSettings

pytestmark = pytest.mark.unit


def test_environment_variables_are_read_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_STORE_URL", "s3://minio:9000/adapters")
    monkeypatch.setenv("ADVISOR_API_KEYS", "k1, k2")
    settings = AdvisorSettings()
    assert settings.store_url == "s3://minio:9000/adapters"
    assert [k.get_secret_value() for k in settings.api_keys] == ["k1", "k2"]


@pytest.mark.parametrize("value", ["changeme", "minioadmin", "", "  Secret "])
def test_placeholder_secrets_are_refused_in_production(monkeypatch, value: str) -> None:
    monkeypatch.setenv("ADVISOR_ENVIRONMENT", "production")
    monkeypatch.setenv("ADVISOR_S3_SECRET_KEY", value)
    with pytest.raises(ValidationError, match="ADVISOR_S3_SECRET_KEY holds a placeholder"):
        AdvisorSettings()


def test_placeholders_are_allowed_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_S3_SECRET_KEY", "minioadmin")
    assert AdvisorSettings().s3_secret_key is not None


def test_real_secret_passes_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_ENVIRONMENT", "production")
    monkeypatch.setenv("ADVISOR_S3_SECRET_KEY", "x7Hq-long-random-value")
    assert AdvisorSettings().environment == "production"
