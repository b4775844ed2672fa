"""Processes the chaos experiments share: the evaluator's API and workers, auditor workers, the
OpenAI-compatible stub with a delay, all on a redis-server of the test's own."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import REPO, free_port
from tests.integration.evaluator.evaluator_processes import (
    EvaluatorProcesses,
    evaluator_env,
    wait_http,
)
from tests.process_group import ProcessGroup

SAMPLE = REPO / "data" / "sample"
AUDITOR_KEY = "chaos-auditor-key-5d2b"


@contextlib.contextmanager
def slow_stub(root: Path, delay: float) -> Iterator[str]:
    """The evaluator tests' OpenAI-compatible stub, each completion `delay` s long."""
    port = free_port()
    log = root / f"stub-{port}.log"
    root.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as handle:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.evaluator.openai_stub",
                "--port",
                str(port),
                "--delay",
                str(delay),
            ],
            cwd=REPO,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/v1/models", proc, log, timeout=60)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def stub_calls(inference_url: str) -> int:
    stats = httpx.get(inference_url.removesuffix("/v1") + "/stats").json()
    return sum(stats["calls"].values())


@contextlib.contextmanager
def evaluator(root: Path, redis_url: str, inference_url: str) -> Iterator[EvaluatorProcesses]:
    group = EvaluatorProcesses(root, evaluator_env(root, redis_url, inference_url, "stub-key"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        group.start_api(free_port())
        yield group
    finally:
        group.stop()


def evaluation_request(items: int, tag: str = "") -> dict[str, Any]:
    rows = [
        {
            "id": f"q{i}",
            "prompt": f"Which visa do I need for course {i} in Norvania? {tag}",
            "reference": f"You need the Norvania student visa ({i}).",
        }
        for i in range(items)
    ]
    return {
        "dataset": {"items": rows},
        "candidates": ["base", "tuned"],
        "metrics": ["rouge_l", "judge"],
        "judge": {"model": "judge-stub"},
        "generation": {"max_tokens": 64},
    }


def evaluation_units(items: int) -> int:
    """Stored results of one evaluation job: generations of 2 candidates + 2-order judgements."""
    return 2 * items + 2 * items


def evaluation_results(group: EvaluatorProcesses, job_id: str) -> list[Path]:
    root = group.store_dir / "evaluations" / job_id
    return [
        p
        for folder in ("generations", "judgements")
        if (root / folder).is_dir()
        for p in (root / folder).rglob("*.json")
    ]


class Auditor:
    """The auditor's API (in-process, on Redis) and its worker processes."""

    def __init__(self, root: Path, redis_url: str, chunk_size: int = 2):
        self.root, self.redis_url = root, redis_url
        self.env = {
            **os.environ,
            "ADVISOR_REDIS_URL": redis_url,
            "ADVISOR_STORE_URL": f"file://{root / 'store'}",
            "ADVISOR_AUDITOR_SOURCES": str(SAMPLE / "sources"),
            "ADVISOR_AUDITOR_CHUNK_SIZE": str(chunk_size),
            "ADVISOR_API_KEYS": AUDITOR_KEY,
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        self.group = ProcessGroup(root, self.env)
        root.mkdir(parents=True, exist_ok=True)

    def settings(self) -> Any:
        from advisor_auditor.core.config import Settings

        return Settings(
            redis_url=self.redis_url,
            store_url=self.env["ADVISOR_STORE_URL"],
            auditor_sources=SAMPLE / "sources",
            api_keys=[AUDITOR_KEY],
            auditor_chunk_size=int(self.env["ADVISOR_AUDITOR_CHUNK_SIZE"]),
        )

    def client(self) -> Any:
        from fastapi.testclient import TestClient

        from advisor_auditor.main import create_app

        client = TestClient(create_app(self.settings()))
        client.headers["Authorization"] = f"Bearer {AUDITOR_KEY}"
        return client

    def start_worker(self, name: str, pool: str = "solo") -> subprocess.Popen:
        return self.group.spawn(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "advisor_auditor.worker",
                "worker",
                f"--pool={pool}",
                "--concurrency=1",
                "--loglevel=WARNING",
                "-Q",
                "auditor",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"{name}@%h",
            ],
        )

    def chunks(self, job_id: str) -> list[Path]:
        folder = self.root / "store" / "audits" / job_id / "chunks"
        return sorted(folder.glob("*.json")) if folder.is_dir() else []

    def submit(self, client: Any, lines: list[str]) -> str:
        response = client.post("/v1/audits", json={"dataset": "\n".join(lines) + "\n"})
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def status(self, client: Any, job_id: str) -> dict[str, Any]:
        return dict(client.get(f"/v1/audits/{job_id}").json())

    def wait_finished(self, client: Any, job_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.status(client, job_id)
            if body["status"] in ("succeeded", "failed"):
                return body
            time.sleep(0.5)
        logs = "\n".join(p.read_text()[-2000:] for p in self.root.glob("*.log"))
        raise TimeoutError(f"audit {job_id} unfinished after {timeout}s: {body}\n{logs}")

    def stop(self) -> None:
        self.group.stop()


def sample_lines(start: int, count: int) -> list[str]:
    lines = (SAMPLE / "test.jsonl").read_text().splitlines()
    return [lines[(start + i) % len(lines)] for i in range(count)]
