"""Finding 7: the gateway's `/readyz` listed the loaded models and adapters and any start-up
errors, and `/metrics` on three services gave per-model request counts, to anyone. The public
probes now say only alive/ready; the detail and the metrics need a key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.reliability.services import APPS, AUTH, run_async

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", sorted(APPS))
def test_public_probes_say_only_alive_or_ready(tmp_path: Path, service: str) -> None:
    async def scenario(client):
        return [await client.get(path) for path in ("/healthz", "/readyz")]

    for response in run_async(APPS[service](tmp_path), scenario):
        assert set(response.json()) <= {"status", "error"}, (service, response.json())


@pytest.mark.parametrize("service", ["auditor", "evaluator", "gateway"])
def test_metrics_need_a_key(tmp_path: Path, service: str) -> None:
    async def scenario(client):
        return await client.get("/metrics"), await client.get("/metrics", headers=AUTH)

    without, with_key = run_async(APPS[service](tmp_path), scenario)
    assert without.status_code == 401, without.text
    assert with_key.status_code == 200 and "# TYPE" in with_key.text


def test_the_gateway_detail_is_behind_the_key(tmp_path: Path) -> None:
    async def scenario(client):
        return await client.get("/v1/status"), await client.get("/v1/status", headers=AUTH)

    without, with_key = run_async(APPS["gateway"](tmp_path), scenario)
    assert without.status_code == 401
    assert {"models", "startup_errors", "detail"} <= set(with_key.json())
