"""Finding 2: any app key could unload (or load) a served adapter, and start training. Admin
keys are now a separate setting; jobs record their submitter's key id, never the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from advisor_shared.api.auth import key_owner

pytestmark = pytest.mark.integration

APP_KEY, ADMIN_KEY = "app-key-3b9e71", "admin-key-e2c84f"
APP = {"Authorization": f"Bearer {APP_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
KEYS = {"environment": "production", "api_keys": [APP_KEY], "admin_api_keys": [ADMIN_KEY]}


def gateway(tmp_path: Path) -> TestClient:
    from advisor_inference.core.config import Settings
    from advisor_inference.main import create_app
    from advisor_shared.store import LocalStore
    from tests.unit.inference.scripted_engine import ScriptedEngine

    app = create_app(Settings(**KEYS), engine=ScriptedEngine(), store=LocalStore(tmp_path))
    return TestClient(app)


def test_an_app_key_cannot_load_or_unload_adapters(tmp_path: Path) -> None:
    with gateway(tmp_path) as client:
        unload = client.delete("/v1/adapters/advisor", headers=APP)
        load = client.post("/v1/adapters", headers=APP, json={"adapter": "advisor"})
        chat = client.post(
            "/v1/chat/completions",
            headers=APP,
            json={"model": "base", "messages": [{"role": "user", "content": "hi"}]},
        )
        as_admin = client.delete("/v1/adapters/advisor", headers=ADMIN)
    assert (unload.status_code, load.status_code) == (403, 403), (unload.text, load.text)
    assert unload.json()["error"]["code"] == "admin_key_required"
    assert chat.status_code == 200, chat.text  # the app key still chats
    assert as_admin.status_code == 404, as_admin.text  # admitted; there is no such adapter


def test_an_app_key_cannot_start_training_and_jobs_record_their_owner(tmp_path: Path) -> None:
    from advisor_trainer.core.config import Settings
    from advisor_trainer.main import create_app

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tiny.jsonl").write_text(
        json.dumps(
            {
                "id": "a",
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a"},
                ],
            }
        )
        + "\n"
    )
    settings = Settings(
        **KEYS,
        store_url=f"file://{tmp_path / 'store'}",
        trainer_data_dir=tmp_path / "data",
        trainer_output_dir=tmp_path / "work",
    )
    body = {
        "config": {
            "run_name": "scoped",
            "base_model": "smollm2-135m-instruct",
            "dataset": "tiny.jsonl",
            "max_steps": 1,
        }
    }
    with TestClient(create_app(settings, enqueue=lambda job_id: None)) as client:
        refused = client.post("/v1/training-jobs", headers=APP, json=body)
        accepted = client.post("/v1/training-jobs", headers=ADMIN, json=body)
        record = client.app.state.jobs.get("training", accepted.json()["id"])
    assert refused.status_code == 403, refused.text
    assert accepted.status_code == 202, accepted.text
    assert record.owner == key_owner(ADMIN_KEY.encode())
    stored = "".join(p.read_text() for p in (tmp_path / "store").rglob("*.json"))
    assert ADMIN_KEY not in stored  # the key itself is never written


def test_an_evaluation_records_the_key_that_submitted_it(tmp_path: Path) -> None:
    from tests.integration.reliability.services import AUTH, KEY, evaluator_app
    from tests.security.listener import listener

    items = [{"id": "q0", "prompt": "Which visa?", "reference": "The student visa."}]
    with listener(models=("base",)) as inference:
        app = evaluator_app(tmp_path, inference_url=inference.url)
        with TestClient(app) as client:
            response = client.post(
                "/v1/evaluations",
                headers=AUTH,
                json={"dataset": {"items": items}, "candidates": ["base"], "metrics": ["rouge_l"]},
            )
            record = app.state.runtime.jobs.get("evaluation", response.json()["id"])
    assert response.status_code == 202, response.text
    assert record.owner == key_owner(KEY.encode())
