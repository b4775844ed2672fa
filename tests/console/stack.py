"""The stack the console's browser tests drive, as real processes on one local store: the
gateway (with the console), the evaluator, auditor and trainer APIs (each consuming its queue
in-process, as the embedded default runs), and an OpenAI-compatible stub slow enough that an
evaluation submitted against it is still running when the test cancels it."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import CACHE_DIR, free_port, wait_for_http
from tests.process_group import REPO, ProcessGroup

APP_KEY = "console-app-key-3f9c1d"
ADMIN_KEY = "console-admin-key-8b27e4"
# A snapshot of a real `advisor demo` run's store (tests/console/snapshot_demo.py made it).
DEMO_STORE = REPO / "tests" / "fixtures" / "demo_store"
SOURCES = REPO / "data" / "sample" / "sources"


@dataclass
class ConsoleStack:
    group: ProcessGroup
    store: Path
    gateway: str
    evaluator: str
    stub: str

    def stop(self) -> None:
        self.group.stop()


def uvicorn(factory: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


def start_stack(
    root: Path, source_store: Path = DEMO_STORE, stub_delay_s: float = 3.0
) -> ConsoleStack:
    """Copy `source_store` and start every process on the copy; wait until each answers."""
    store = root / "store"
    shutil.copytree(source_store, store)
    ports = {name: free_port() for name in ("stub", "evaluator", "auditor", "trainer", "gateway")}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        **os.environ,
        "ADVISOR_ENVIRONMENT": "test",
        "ADVISOR_STORE_URL": f"file://{store}",
        "ADVISOR_API_KEYS": APP_KEY,
        "ADVISOR_ADMIN_API_KEYS": ADMIN_KEY,
        "ADVISOR_CACHE_DIR": str(CACHE_DIR),
        "ADVISOR_REDIS_URL": "",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        # The evaluator's candidates and judge: the stub.
        "ADVISOR_INFERENCE_URL": f"{url['stub']}/v1",
        "ADVISOR_INFERENCE_API_KEY": "stub-key",
        "ADVISOR_AUDITOR_SOURCES": str(SOURCES),
        "ADVISOR_TRAINER_DATA_DIR": str(root / "data"),
        "ADVISOR_TRAINER_OUTPUT_DIR": str(root / "work"),
        # The gateway's console reads the three job APIs.
        "ADVISOR_EVALUATOR_URL": url["evaluator"],
        "ADVISOR_AUDITOR_URL": url["auditor"],
        "ADVISOR_TRAINER_URL": url["trainer"],
        "ADVISOR_FLOWER_URL": "http://localhost:5555",
        "ADVISOR_TORCH_THREADS": "1",
    }
    group = ProcessGroup(root / "logs", env)
    procs = {
        "stub": group.spawn(
            "stub",
            [
                sys.executable,
                "-m",
                "tests.integration.evaluator.openai_stub",
                "--port",
                str(ports["stub"]),
                "--models",
                "base,tuned",
                "--delay",
                str(stub_delay_s),
            ],
        ),
        "evaluator": group.spawn(
            "evaluator", uvicorn("advisor_evaluator.main:create_app", ports["evaluator"])
        ),
        "auditor": group.spawn(
            "auditor", uvicorn("advisor_auditor.main:create_app", ports["auditor"])
        ),
        "trainer": group.spawn(
            "trainer", uvicorn("advisor_trainer.main:create_app", ports["trainer"])
        ),
        "gateway": group.spawn(
            "gateway", uvicorn("advisor_inference.main:create_app", ports["gateway"])
        ),
    }
    try:
        for name, proc in procs.items():
            probe = "/v1/models" if name == "stub" else "/healthz"
            wait_for_http(proc, url[name] + probe, group.root / f"{name}.log", timeout=120)
    except BaseException:
        group.stop()
        raise
    return ConsoleStack(group, store, url["gateway"], url["evaluator"], url["stub"])
