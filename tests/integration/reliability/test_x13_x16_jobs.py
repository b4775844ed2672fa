"""docs/reliability.md, X13 (one Idempotency-Key posted concurrently over HTTP) and X16 (statuses
after the result backend expires), on each job API with a redis-server the test starts itself.

Figures: jobs created per key (1); statuses missing once every Redis key is gone (0)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from advisor_shared.queue import redis_client

from .services import AUTH, JOB_APPS, figure, job_request, openai_stub, own_redis, serve

pytestmark = pytest.mark.integration
CONCURRENT = 16


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with own_redis(tmp_path_factory.mktemp("redis-x13")) as server:
        yield server


@pytest.fixture(scope="module")
def inference_url():  # type: ignore[no-untyped-def]
    with openai_stub() as url:
        yield url


def job_app(service: str, root: Path, redis_url: str, inference_url: str):  # type: ignore[no-untyped-def]
    extra = {"inference_url": inference_url} if service == "evaluator" else {}
    return JOB_APPS[service](root, redis_url, **extra)


@pytest.mark.parametrize("service", sorted(JOB_APPS))
def test_x13_one_idempotency_key_posted_concurrently_makes_one_job(
    service: str, tmp_path: Path, redis_server, inference_url
) -> None:
    app = job_app(service, tmp_path, redis_server.url, inference_url)
    path, body = job_request(service)
    keys = [f"key-{uuid.uuid4().hex}" for _ in range(3)]
    with serve(app) as url, httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:

        def post(key: str) -> httpx.Response:
            return client.post(path, json=body, headers={"Idempotency-Key": key})

        with ThreadPoolExecutor(CONCURRENT) as pool:
            responses = list(pool.map(post, [k for k in keys for _ in range(CONCURRENT)]))
    statuses = {r.status_code for r in responses}
    jobs_per_key = [
        len({r.json()["id"] for r in responses[i * CONCURRENT : (i + 1) * CONCURRENT]})
        for i in range(len(keys))
    ]
    figure(
        f"X13 idempotency {service}",
        f"{len(keys)} keys x {CONCURRENT} concurrent POSTs over "
        f"HTTP -> statuses {sorted(statuses)}, jobs per key {jobs_per_key}",
        runs=len(keys) * CONCURRENT,
        faults=len(keys) * (CONCURRENT - 1),
        duplicated=sum(jobs_per_key) - len(keys),
        ok=jobs_per_key == [1] * len(keys),
    )
    assert statuses <= {200, 201, 202}, [r.text for r in responses if r.status_code >= 300][:2]
    assert jobs_per_key == [1] * len(keys)
    assert len({r.json()["id"] for r in responses}) == len(keys)


@pytest.mark.parametrize("service", sorted(JOB_APPS))
def test_x16_statuses_survive_the_result_backend_expiring(
    service: str, tmp_path: Path, redis_server, inference_url
) -> None:
    """Jobs submitted through the API; then every key of the broker/result backend is gone
    (what `result_expires` does to Celery's results, and more): each status still reads."""
    app = job_app(service, tmp_path, redis_server.url, inference_url)
    jobs = 5
    with serve(app) as url, httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
        created = []
        for i in range(jobs):
            path, body = job_request(service, tag=str(i))
            r = client.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
            assert r.status_code in (200, 201, 202), r.text
            created.append((r.json()["id"], r.json()["status"]))
        redis_client(redis_server.url).flushall()
        after = [(job_id, client.get(f"{path}/{job_id}")) for job_id, _ in created]
    missing = [job_id for job_id, r in after if r.status_code != 200]
    changed = [
        job_id
        for (job_id, r), (_, status) in zip(after, created, strict=True)
        if r.status_code == 200 and r.json()["status"] != status
    ]
    figure(
        f"X16 result-backend loss {service}",
        f"{jobs} jobs, Redis emptied -> {len(missing)} statuses missing, {len(changed)} changed",
        runs=jobs,
        faults=1,
        lost=len(missing),
        ok=(missing, changed) == ([], []),
    )
    assert (missing, changed) == ([], [])
