"""Fixtures of the evaluator's integration tests: the OpenAI-compatible stub as a process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from evaluator_processes import REPO, EvaluatorProcesses, evaluator_env, wait_http

from tests.conftest import free_port


@pytest.fixture
def start_stub(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start `openai_stub` (`judge=...`, `delay=...`); returns its `/v1` URL."""
    procs: list[subprocess.Popen] = []

    def start(judge: str = "consistent", delay: float = 0.0) -> str:
        port = free_port()
        log = tmp_path / f"stub-{port}.log"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.evaluator.openai_stub",
                "--port",
                str(port),
                "--judge",
                judge,
                "--delay",
                str(delay),
            ],
            cwd=REPO,
            stdout=open(log, "w"),
            stderr=subprocess.STDOUT,  # noqa: SIM115
        )
        procs.append(proc)
        wait_http(f"http://127.0.0.1:{port}/v1/models", proc, log, timeout=30)
        return f"http://127.0.0.1:{port}/v1"

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def processes(tmp_path: Path, redis_url: str) -> Iterator[Callable[[str, str], EvaluatorProcesses]]:
    """Evaluator processes (API, workers) against an inference URL, on real Redis."""
    started: list[EvaluatorProcesses] = []

    def make(inference_url: str, inference_key: str = "stub-key") -> EvaluatorProcesses:
        group = EvaluatorProcesses(
            tmp_path, evaluator_env(tmp_path, redis_url, inference_url, inference_key)
        )
        started.append(group)
        return group

    yield make
    for group in started:
        group.stop()


def stub_calls(inference_url: str) -> dict[str, int]:
    return dict(httpx.get(inference_url.removesuffix("/v1") + "/stats").json()["calls"])
