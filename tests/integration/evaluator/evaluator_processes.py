"""Start the evaluator's real processes for integration tests: the API (uvicorn), Celery
workers, and the OpenAI-compatible stub. Each test gets its own queue and store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.process_group import ProcessGroup

REPO = Path(__file__).resolve().parents[3]
API_KEY = "evaluator-test-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer 200 in {timeout}s:\n{log.read_text()[-3000:]}")


@dataclass
class EvaluatorProcesses(ProcessGroup):
    """The API, the workers and their shared environment; stops everything it started."""

    api_url: str = ""

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        return self.spawn(name, args)

    def start_api(self, port: int) -> None:
        proc = self._spawn(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "advisor_evaluator.main:create_app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
        )
        self.api_url = f"http://127.0.0.1:{port}"
        wait_http(f"{self.api_url}/readyz", proc, self.root / "api.log")

    def start_worker(
        self, name: str, concurrency: int = 2, loglevel: str = "WARNING"
    ) -> subprocess.Popen:
        return self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "advisor_evaluator.worker",
                "worker",
                "-Q",
                self.env["ADVISOR_QUEUE_NAME"],
                "--pool=threads",
                f"--concurrency={concurrency}",
                f"--loglevel={loglevel}",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"{name}@%h",
            ],
        )

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, headers=AUTH, timeout=30)

    def wait_finished(self, job_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                body = client.get(f"/v1/evaluations/{job_id}").json()
                if body["status"] in ("succeeded", "failed"):
                    return body
                time.sleep(0.5)
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in self.logs)
        raise TimeoutError(f"job {job_id} unfinished after {timeout}s: {body}\n{logs}")


def evaluator_env(
    root: Path, redis_url: str, inference_url: str, inference_key: str
) -> dict[str, str]:
    """Environment of every evaluator process of one test (a queue of its own)."""
    return {
        **os.environ,
        "ADVISOR_STORE_URL": f"file://{root / 'store'}",
        "ADVISOR_REDIS_URL": redis_url,
        "ADVISOR_API_KEYS": API_KEY,
        "ADVISOR_INFERENCE_URL": inference_url,
        "ADVISOR_INFERENCE_API_KEY": inference_key,
        "ADVISOR_QUEUE_NAME": f"evaluator-test-{uuid.uuid4().hex[:8]}",
        # Scaled down so a killed worker's job is re-driven within seconds, not minutes.
        "ADVISOR_STALE_JOB_AFTER_S": "3",
        "ADVISOR_RECONCILE_INTERVAL_S": "1",
        "ADVISOR_UNIT_LEASE_TTL_S": "3",
        "ADVISOR_CACHE_DIR": str(REPO / ".cache" / "advisor"),
    }
