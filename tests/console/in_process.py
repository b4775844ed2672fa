"""The console with every service it reads built in-process on one local store: the job
services' real apps behind an httpx transport that routes by host name, and the gateway over a
scripted engine. Fast enough for every page and every refusal to be checked in seconds."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

APP_KEY = "console-app-key-3f9c1d"
ADMIN_KEY = "console-admin-key-8b27e4"
SOURCES = Path(__file__).resolve().parents[2] / "data" / "sample" / "sources"


class HostRouter(httpx.AsyncBaseTransport):
    """Send `http://<name>/…` to the in-process app registered under `name`."""

    def __init__(self, apps: dict[str, FastAPI]):
        self.transports = {name: httpx.ASGITransport(app=app) for name, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transports[request.url.host].handle_async_request(request)


def service_apps(store_dir: Path, **evaluator_extra: Any) -> dict[str, FastAPI]:
    from advisor_auditor.core.config import Settings as AuditorSettings
    from advisor_auditor.main import create_app as auditor_app
    from advisor_evaluator.core.config import Settings as EvaluatorSettings
    from advisor_evaluator.main import create_app as evaluator_app
    from advisor_trainer.core.config import Settings as TrainerSettings
    from advisor_trainer.main import create_app as trainer_app

    common = {
        "environment": "test",
        "api_keys": [APP_KEY],
        "admin_api_keys": [ADMIN_KEY],
        "store_url": f"file://{store_dir}",
    }
    return {
        "evaluator": evaluator_app(
            EvaluatorSettings(
                **common,
                inference_url="http://127.0.0.1:9/v1",
                inference_api_key="unused-0123",
                **evaluator_extra,
            )
        ),
        "auditor": auditor_app(AuditorSettings(**common, auditor_sources=SOURCES)),
        "trainer": trainer_app(
            TrainerSettings(
                **common, trainer_data_dir=store_dir / "data", trainer_output_dir=store_dir / "work"
            ),
            enqueue=lambda job_id: None,
        ),
    }


def gateway_app(store_dir: Path, services: dict[str, FastAPI], **extra: Any) -> FastAPI:
    from advisor_inference.core.config import Settings
    from advisor_inference.main import create_app
    from advisor_shared.store import LocalStore
    from tests.unit.inference.scripted_engine import ScriptedEngine

    settings = Settings(
        environment="test",
        api_keys=[APP_KEY],
        admin_api_keys=[ADMIN_KEY],
        evaluator_url="http://evaluator",
        auditor_url="http://auditor",
        trainer_url="http://trainer",
        flower_url="http://localhost:5555",
        **extra,
    )
    app = create_app(settings, engine=ScriptedEngine(), store=LocalStore(store_dir))
    console = app.state.console
    backends = dataclasses.replace(console.backends, transport=HostRouter(services))
    app.state.console = dataclasses.replace(console, backends=backends)
    return app
