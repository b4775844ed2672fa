"""The auditor API as the demo uses it: one process for the whole run, started when first
needed. It gates the training data (`POST /v1/audits` with `gate`) and later audits the
evaluated answers for the evaluator, so the source corpus is indexed and the encoder loaded
once, not once per stage.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx

from .processes import Server, StageFailed, free_port

POLL_S = 0.5


class DemoAuditor:
    """The auditor server of one demo run; `stop` is safe to call more than once."""

    def __init__(self, env: dict[str, str], api_key: str, log_path: Path):
        self.port = free_port()
        self.env, self.api_key, self.log_path = env, api_key, log_path
        self.server: Server | None = None
        self._ready = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process without waiting for it (it loads while other work runs)."""
        if self.server is None:
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "advisor_auditor.main:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ]
            self.server = Server(command, self.env, self.log_path)

    def wait_ready(self) -> None:
        self.start()
        assert self.server is not None
        if not self._ready:
            self.server.wait_ready(f"{self.url}/healthz")
            self._ready = True

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server, self._ready = None, False

    def _client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60.0)

    def fetch(self, path: str) -> bytes:
        """One of a finished job's files, by the API path the job lists under `files`."""
        with self._client() as client:
            response = client.get(path)
        if response.status_code != 200:
            raise StageFailed(f"the auditor could not give {path}: HTTP {response.status_code}")
        return response.content

    def gate(
        self, dataset_key: str, idempotency_key: str, timeout_s: float = 1800.0
    ) -> dict[str, Any]:
        """Audit the stored dataset and gate it; return the finished job (summary, files)."""
        self.wait_ready()
        with self._client() as client:
            response = client.post(
                "/v1/audits",
                json={"dataset_key": dataset_key, "gate": True},
                headers={"Idempotency-Key": idempotency_key},
            )
            if response.status_code not in (200, 201, 202):
                raise StageFailed(f"the auditor refused the gate audit: {response.text[:500]}")
            job = response.json()
            deadline = time.monotonic() + timeout_s
            while job.get("status") not in ("succeeded", "failed", "cancelled"):
                if time.monotonic() > deadline:
                    raise StageFailed(f"the gate audit did not finish in {timeout_s:.0f} s")
                time.sleep(POLL_S)
                job = client.get(f"/v1/audits/{job['id']}").json()
        if job["status"] != "succeeded":
            raise StageFailed(
                f"the gate audit {job['status']}: {job.get('error')}; see {self.log_path}"
            )
        return dict(job)
