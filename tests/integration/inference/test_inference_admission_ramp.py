"""docs/reliability.md, X11: a concurrency ramp past the engine's capacity, against the gateway over
the real engine (the tiny model) on a loopback port. Up to the in-flight limit every request is
answered; beyond it the excess gets 429 with `Retry-After` at once, never a 5xx, a timeout or a
dropped connection, and the engine keeps serving after the burst. Half the requests stream."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from advisor_inference.core.config import Settings
from advisor_inference.engines.hf import HFEngine
from advisor_inference.main import create_app
from advisor_shared.models import resolve_base_model
from advisor_shared.store import LocalStore
from tests.integration.reliability.services import AUTH, KEY, figure, serve

pytestmark = pytest.mark.integration
CAPACITY = 4
RETRY_AFTER_S = 2
LEVELS = (1, 2, 4, 8, 16, 32, 64)
MAX_TOKENS = 48
# Far above the slowest answer: a request that waits this long counts as a hang.
CLIENT_TIMEOUT_S = 60.0
ASK = [{"role": "user", "content": "What is the application deadline?"}]


async def ask(client: httpx.AsyncClient, i: int) -> tuple[int, str | None, str | None, float]:
    """(status, Retry-After, error code, seconds); status 0 for a timeout or a dropped
    connection. Streams are read to `[DONE]`."""
    body = {"model": "base", "messages": ASK, "max_tokens": MAX_TOKENS, "stream": i % 2 == 1}
    started = time.monotonic()
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            text = (await response.aread()).decode()
    except httpx.TransportError:
        return 0, None, None, time.monotonic() - started
    seconds = time.monotonic() - started
    code = response.json()["error"]["code"] if response.status_code >= 400 else None
    if response.status_code == 200 and body["stream"] and not text.rstrip().endswith("[DONE]"):
        return 0, None, "stream cut short", seconds
    return response.status_code, response.headers.get("retry-after"), code, seconds


def test_a_concurrency_ramp_past_capacity_gets_429_never_5xx_or_hangs(
    tiny_model_dir: Path, tmp_path: Path, capsys
) -> None:
    fingerprint = resolve_base_model(str(tiny_model_dir), tmp_path).fingerprint
    engine = HFEngine(str(tiny_model_dir), base_fingerprint=fingerprint)
    settings = Settings(
        environment="production",
        api_keys=[KEY],
        max_in_flight=CAPACITY,
        retry_after_s=RETRY_AFTER_S,
    )
    app = create_app(settings, engine=engine, store=LocalStore(tmp_path / "store"))

    async def ramp(url: str) -> tuple[dict[int, list], list[int], str]:
        levels: dict[int, list] = {}
        timeout = httpx.Timeout(CLIENT_TIMEOUT_S)
        limits = httpx.Limits(max_connections=max(LEVELS))
        async with httpx.AsyncClient(
            base_url=url, headers=AUTH, timeout=timeout, limits=limits
        ) as client:
            while (await client.get("/readyz")).status_code != 200:
                await asyncio.sleep(0.1)
            for level in LEVELS:
                levels[level] = await asyncio.gather(*(ask(client, i) for i in range(level)))
            after = [(await client.get(p)).status_code for p in ("/healthz", "/readyz")]
            after.append((await ask(client, 0))[0])
            metrics = (await client.get("/metrics")).text
        return levels, after, metrics

    started = time.monotonic()
    with serve(app) as url:
        levels, after, metrics = asyncio.run(ramp(url))
    seconds = time.monotonic() - started
    answers = [a for level in LEVELS for a in levels[level]]
    statuses = Counter(status for status, *_ in answers)
    throttled = [a for a in answers if a[0] == 429]
    bad_429 = [a for a in throttled if a[1] != str(RETRY_AFTER_S) or a[2] != "overloaded"]
    failures = sum(n for status, n in statuses.items() if status == 0 or status >= 500)
    under = [s for level in LEVELS if level <= CAPACITY for s, *_ in levels[level]]
    served = {level: sum(s == 200 for s, *_ in levels[level]) for level in LEVELS}
    slowest = max(a[3] for a in answers)
    excess = sum(max(0, level - CAPACITY) for level in LEVELS)
    text = (
        f"gateway over the tiny model, {CAPACITY} requests in flight at most: ramp of "
        f"{'/'.join(map(str, LEVELS))} concurrent requests ({len(answers)}, half streamed, "
        f"{excess} beyond capacity) -> statuses {dict(sorted(statuses.items()))}, answered "
        f"per level {list(served.values())}, every 429 with Retry-After {RETRY_AFTER_S} s "
        f"({len(bad_429)} without), {failures} 5xx/timeouts/dropped, slowest answer "
        f"{slowest:.1f} s; after the ramp /healthz, /readyz and a request -> {after}, in "
        f"flight back to 0 ({'yes' if 'advisor_inference_in_flight 0.0' in metrics else 'no'})"
        f", {seconds:.0f} s in all"
    )
    ok = (
        set(statuses) <= {200, 429}
        and failures == 0
        and not bad_429
        and len(throttled) > 0
        and all(s == 200 for s in under)
        and all(served[level] >= min(level, CAPACITY) for level in LEVELS)
        and after == [200, 200, 200]
        and "advisor_inference_in_flight 0.0" in metrics
    )
    with capsys.disabled():
        figure(
            "X11 concurrency ramp past capacity",
            text,
            runs=len(answers),
            faults=excess,
            lost=failures,
            refused=len(throttled),
            ok=ok,
        )
    assert ok, text
