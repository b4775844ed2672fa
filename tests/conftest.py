"""Shared fixtures: real Redis, a real S3 API server on loopback, the packaged models, and a
tiny random Mistral for fast tests. Nothing here downloads anything."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# One model cache for every run, so the GGUF is dequantised once per checkout.
CACHE_DIR = REPO / ".cache" / "advisor"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def wait_for_http(
    proc: subprocess.Popen, url: str, log_path: Path, timeout: float, interval: float = 0.5
) -> None:
    """Wait until `url` answers 200; fail with the server's log if it exits or never does."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log_path.read_text()[-3000:]
        assert time.monotonic() < deadline, f"{url} did not answer 200 within {timeout} s"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(interval)


def _redis_answers(url: str) -> bool:
    import redis

    from advisor_shared.queue import redis_client

    try:
        return bool(redis_client(url, connect_timeout_s=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis on 6379 if it answers, else a redis-server the tests start."""
    default = "redis://127.0.0.1:6379/15"
    if _redis_answers(default):
        yield default
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no Redis reachable and no redis-server binary to start one")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 API server in its own process on a free loopback port."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3_store(s3_endpoint: str, request: pytest.FixtureRequest):
    import re
    import uuid

    from advisor_shared.store import S3Store

    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    bucket = f"t-{slug}-{uuid.uuid4().hex[:6]}"
    return S3Store(s3_endpoint, bucket, "testing-access", "testing-secret")


@pytest.fixture
def local_store(tmp_path: Path):
    from advisor_shared.store import LocalStore

    return LocalStore(tmp_path / "store")


@pytest.fixture(params=["local", "s3"])
def any_store(request: pytest.FixtureRequest):
    """Both store implementations, so every contract test runs against each."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture(scope="session")
def embedded_model_dir() -> Path:
    """SmolLM2-135M-Instruct dequantised from the packaged GGUF (cached across runs)."""
    from advisor_shared.models import materialise_smollm2

    return materialise_smollm2(CACHE_DIR)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Mistral with a small BPE tokenizer trained on the sample data."""
    from tests.fixtures.tiny_model import build_tiny_mistral

    return build_tiny_mistral(tmp_path_factory.mktemp("tiny-mistral"))
