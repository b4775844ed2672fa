"""Finding 3: non-streamed requests abandoned by their clients kept generating for minutes,
holding the gateway's CPU; one key could take every slot. Runs `advisor serve` as a real
process on the embedded model and measures its CPU time after the clients have gone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CACHE_DIR, free_port, wait_for_http

pytestmark = pytest.mark.integration

KEY = "disconnect-key-91ac"
AUTH = {"Authorization": f"Bearer {KEY}"}
LONG = {
    "model": "base",
    "max_tokens": 3000,
    "temperature": 0.0,
    "messages": [{"role": "user", "content": "Count from 1 to 5000, separated by commas."}],
}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to measure CPU time")
    root = tmp_path_factory.mktemp("gateway")
    port = free_port()
    env = {
        **os.environ,
        "ADVISOR_STORE_URL": f"file://{root / 'store'}",
        "ADVISOR_CACHE_DIR": str(CACHE_DIR),
        "ADVISOR_TORCH_THREADS": "1",
        "ADVISOR_MAX_IN_FLIGHT_PER_KEY": "4",
    }
    advisor = Path(sys.executable).with_name("advisor")
    log = open(root / "server.log", "w")  # noqa: SIM115 - closed after the process ends
    proc = subprocess.Popen(
        [str(advisor), "serve", "--port", str(port), "--api-key", KEY, "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(proc, f"{url}/readyz", root / "server.log", timeout=300)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_abandoned_non_streamed_requests_stop_generating(gateway: tuple[str, int]) -> None:
    url, pid = gateway
    with httpx.Client(base_url=url, headers=AUTH, timeout=2.0) as client:
        for _ in range(4):
            with pytest.raises(httpx.TimeoutException):  # the client gives up after 2 s
                client.post("/v1/chat/completions", json=LONG)
    time.sleep(2.0)  # the gateway notices within a poll interval
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(4.0)
    busy = (cpu_seconds(pid) - before) / (time.monotonic() - started)
    print(f"\ngateway CPU after 4 abandoned requests: {busy:.0%} of a core")
    assert busy < 0.25, f"the gateway still computes for gone clients ({busy:.0%} of a core)"
    metrics = httpx.get(f"{url}/metrics", headers=AUTH).text
    assert "advisor_inference_in_flight 0.0" in metrics


def test_one_key_cannot_hold_every_slot(gateway: tuple[str, int]) -> None:
    import asyncio

    url, _ = gateway

    async def scenario() -> list[int]:
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as client:
            held = [
                asyncio.create_task(client.post("/v1/chat/completions", json=LONG))
                for _ in range(4)
            ]
            await asyncio.sleep(1.0)
            extra = await client.post("/v1/chat/completions", json=LONG)
            for task in held:
                task.cancel()
            await asyncio.gather(*held, return_exceptions=True)
            return [extra.status_code, extra.json()["error"]["code"]]

    status, code = asyncio.run(scenario())
    assert (status, code) == (429, "key_quota")
