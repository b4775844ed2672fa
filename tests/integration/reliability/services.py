"""Every service's HTTP app built in-process, as a deployment would build it (production
settings, a bearer key, a local store), plus the helpers the reliability experiments share."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from tests.conftest import REPO, free_port, wait_for_port

# The operator's key: an admin key too (it loads adapters and starts training).
KEY = "reliability-key-7c1e9a"
AUTH = {"Authorization": f"Bearer {KEY}"}
# The console's sign-in form and its stylesheet and script are public by necessity; every
# other /ui route answers 401 without a session (a browser's page request is redirected).
PUBLIC = {"/healthz", "/readyz", "/ui/login", "/ui/static"}
SAMPLE = REPO / "data" / "sample"


def evaluator_app(root: Path, redis_url: str | None = None, **extra: Any) -> FastAPI:
    from advisor_evaluator.core.config import Settings
    from advisor_evaluator.main import create_app

    settings = Settings(
        environment="production",
        api_keys=[KEY],
        admin_api_keys=[KEY],
        store_url=f"file://{root / 'evaluator'}",
        redis_url=redis_url,
        inference_api_key="svc-0123456789",
        queue_name=f"evaluator-rel-{time.time_ns()}",
        **{"inference_url": "http://127.0.0.1:9/v1", **extra},
    )
    return create_app(settings)


def auditor_app(root: Path, redis_url: str | None = None, **extra: Any) -> FastAPI:
    from advisor_auditor.core.config import Settings
    from advisor_auditor.main import create_app

    settings = Settings(
        environment="production",
        api_keys=[KEY],
        admin_api_keys=[KEY],
        store_url=f"file://{root / 'auditor'}",
        redis_url=redis_url,
        auditor_sources=SAMPLE / "sources",
        **extra,
    )
    return create_app(settings)


def trainer_app(root: Path, redis_url: str | None = None, **extra: Any) -> FastAPI:
    from advisor_trainer.core.config import Settings
    from advisor_trainer.main import create_app

    settings = Settings(
        environment="production",
        api_keys=[KEY],
        admin_api_keys=[KEY],
        store_url=f"file://{root / 'trainer'}",
        redis_url=redis_url,
        trainer_data_dir=root / "data",
        trainer_output_dir=root / "work",
        **extra,
    )
    return create_app(settings, enqueue=lambda job_id: None)


def gateway_app(root: Path, **extra: Any) -> FastAPI:
    from advisor_inference.core.config import Settings
    from advisor_inference.main import create_app
    from advisor_shared.store import LocalStore
    from tests.unit.inference.scripted_engine import ScriptedEngine

    settings = Settings(environment="production", api_keys=[KEY], admin_api_keys=[KEY], **extra)
    return create_app(settings, engine=ScriptedEngine(), store=LocalStore(root / "gateway"))


JOB_APPS: dict[str, Callable[..., FastAPI]] = {
    "evaluator": evaluator_app,
    "auditor": auditor_app,
    "trainer": trainer_app,
}
APPS: dict[str, Callable[..., FastAPI]] = {**JOB_APPS, "gateway": gateway_app}


def job_request(service: str, tag: str = "") -> tuple[str, dict[str, Any]]:
    """(path, body) of one small valid job for each job API."""
    if service == "evaluator":
        items = [
            {
                "id": "q0",
                "prompt": f"Which visa for Norvania? {tag}",
                "reference": "The student visa.",
            }
        ]
        return "/v1/evaluations", {
            "dataset": {"items": items},
            "candidates": ["base"],
            "metrics": ["rouge_l"],
        }
    if service == "auditor":
        line = (SAMPLE / "test.jsonl").read_text().splitlines()[0]
        return "/v1/audits", {"dataset": line + "\n"}
    return "/v1/training-jobs", {
        "config": {
            "run_name": f"rel{tag}",
            "base_model": "smollm2-135m-instruct",
            "dataset": "tiny.jsonl",
            "max_steps": 1,
        }
    }


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, hidden ones included, from its own table."""
    from fastapi.routing import _IncludedRouter  # nested routers of this FastAPI version

    out: list[tuple[str, str]] = []

    def walk(table: list[Any]) -> None:
        for route in table:
            if isinstance(route, _IncludedRouter):
                walk(route.effective_candidates())
                continue
            inner = getattr(route, "original_route", route)
            for method in sorted(getattr(inner, "methods", None) or {"GET"}):
                if method != "HEAD":
                    out.append((method, route.path))

    walk(app.routes)
    return out


def run_async(app: FastAPI, scenario: Callable[[Any], Any]) -> Any:
    import httpx

    async def main() -> Any:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            return await scenario(client)

    return asyncio.run(main())


@contextlib.contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """The app behind a real uvicorn server on a loopback port, in a thread."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def openai_stub() -> Iterator[str]:
    """The evaluator tests' OpenAI-compatible stub as a process; yields its `/v1` URL."""
    import sys

    import httpx

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.evaluator.openai_stub", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        deadline = time.monotonic() + 30
        while httpx.get(f"http://127.0.0.1:{port}/v1/models").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def own_redis(workdir: Path, port: int | None = None, appendonly: bool = False) -> Iterator[Any]:
    """A redis-server this test starts itself on a free port (never the machine's own)."""
    binary = shutil.which("redis-server")
    if binary is None:
        import pytest

        pytest.skip("no redis-server binary")
    server = RedisServer(binary, workdir, port or free_port(), appendonly)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class RedisServer:
    def __init__(self, binary: str, workdir: Path, port: int, appendonly: bool):
        self.binary, self.workdir, self.port, self.appendonly = binary, workdir, port, appendonly
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(self.workdir),
        ]
        if self.appendonly:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def restart(self, down_s: float = 1.0) -> None:
        self.stop()
        time.sleep(down_s)
        with socket.socket() as sock:  # the port must really be free before the restart
            assert sock.connect_ex(("127.0.0.1", self.port)) != 0
        self.start()


def figure(
    experiment: str,
    text: str,
    *,
    runs: int,
    faults: int,
    lost: int = 0,
    duplicated: int = 0,
    refused: int | str = "",
    ok: bool,
    **measured: Any,
) -> None:
    """Print a measured figure: a line for people and a `FIGURE {json}` line that
    benchmarks/reliability.py gathers into docs/reliability.md (`measured`: named figures kept
    in the JSON row, e.g. `recovery_s`)."""
    import json

    print(f"\n{experiment}: {text}")
    row = {
        "experiment": experiment,
        "runs": runs,
        "faults": faults,
        "lost": lost,
        "duplicated": duplicated,
        "refused": refused,
        "result": "pass" if ok else "FAIL",
        "figure": text,
        **measured,
    }
    print("FIGURE " + json.dumps(row))
