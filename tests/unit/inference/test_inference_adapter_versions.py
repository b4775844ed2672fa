"""Several versions of one adapter served side by side as `name@version`; the store's bundles
listed beside what is loaded; the loaded set recorded in the store and restored by a new
gateway. Over the scripted engine, with the gateway's real lifespan (TestClient)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from scripted_engine import ScriptedEngine

from advisor_inference.core.config import Settings
from advisor_inference.engines.base import EngineInfo
from advisor_inference.main import create_app
from advisor_shared.bundle import write_bundle
from advisor_shared.chat_template import template_fingerprint
from advisor_shared.store import LocalStore
from tests.fixtures.bundles import TEMPLATE, make_bundle_dir

pytestmark = pytest.mark.unit
KEY = {"Authorization": "Bearer k-123"}
ASK = [{"role": "user", "content": "hello there"}]
FINGERPRINT = "sha256:scripted"


def publish(store: LocalStore, tmp_path: Path, name: str, fingerprint: str = FINGERPRINT) -> str:
    folder = make_bundle_dir(tmp_path / f"src-{name}-{fingerprint[-4:]}")
    ref = write_bundle(
        store,
        name,
        folder,
        base_model_id="scripted",
        base_fingerprint=fingerprint,
        chat_template_sha256=template_fingerprint(TEMPLATE),
    )
    return str(ref)


def gateway(store: LocalStore, tmp_path: Path, **settings: object) -> TestClient:
    info = EngineInfo("scripted", FINGERPRINT, template_fingerprint(TEMPLATE), 64)
    config = Settings(api_keys=["k-123"], adapter_dir=tmp_path / "served", **settings)  # type: ignore[arg-type]
    return TestClient(create_app(config, engine=ScriptedEngine(info), store=store))


def wait_started(client: TestClient) -> dict:
    for _ in range(200):
        if client.get("/readyz").status_code == 200:
            return client.get("/v1/status", headers=KEY).json()
        time.sleep(0.02)
    raise AssertionError("the gateway did not finish starting")


def answer(client: TestClient, model: str) -> str:
    reply = client.post("/v1/chat/completions", headers=KEY, json={"model": model, "messages": ASK})
    assert reply.status_code == 200, reply.text
    return reply.json()["choices"][0]["message"]["content"]


def test_two_versions_of_one_adapter_are_served_side_by_side(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    v1, v2 = publish(store, tmp_path, "advisor"), publish(store, tmp_path, "advisor")
    assert (v1, v2) == ("advisor@v0001", "advisor@v0002")
    with gateway(store, tmp_path) as client:
        wait_started(client)
        for ref in (v1, v2):
            loaded = client.post("/v1/adapters", headers=KEY, json={"adapter": ref})
            assert loaded.status_code == 201, loaded.text
        again = client.post("/v1/adapters", headers=KEY, json={"adapter": "advisor"})
        assert again.status_code == 409  # the latest, v0002, is loaded already
        models = {
            m["id"]: m.get("adapter") for m in client.get("/v1/models", headers=KEY).json()["data"]
        }
        assert models == {"base": None, "advisor": v2, v1: v1, v2: v2}
        # Each id reaches its own version in the engine; the bare name reaches the newest.
        assert answer(client, v1).startswith("advisor@v0001 says")
        assert answer(client, v2).startswith("advisor@v0002 says")
        assert answer(client, "advisor").startswith("advisor@v0002 says")
        gone = client.delete(f"/v1/adapters/{v2}", headers=KEY)
        assert [a["version"] for a in gone.json()["data"]] == ["v0002"]
        assert answer(client, "advisor").startswith("advisor@v0001 says")
        missing = client.post(
            "/v1/chat/completions", headers=KEY, json={"model": v2, "messages": ASK}
        )
        assert missing.status_code == 404
        client.post("/v1/adapters", headers=KEY, json={"adapter": v2})
        both = client.delete("/v1/adapters/advisor", headers=KEY)  # the name: every version
        assert sorted(a["version"] for a in both.json()["data"]) == ["v0001", "v0002"]
        assert [m["id"] for m in client.get("/v1/models", headers=KEY).json()["data"]] == ["base"]


def test_the_listing_shows_every_stored_bundle_and_which_are_loaded(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    publish(store, tmp_path, "advisor")
    publish(store, tmp_path, "advisor")
    publish(store, tmp_path, "other-base", fingerprint="sha256:elsewhere")
    store.put_bytes("adapters/broken/v0001/manifest.json", b"{not json")
    with gateway(store, tmp_path) as client:
        wait_started(client)
        client.post("/v1/adapters", headers=KEY, json={"adapter": "advisor@v0001"})
        listing = client.get("/v1/adapters", headers=KEY).json()
        loaded_only = client.get("/v1/adapters?stored=false", headers=KEY).json()
    assert [(a["name"], a["version"]) for a in listing["data"]] == [("advisor", "v0001")]
    stored = {f"{b['name']}@{b['version']}": b for b in listing["stored"]}
    assert list(stored) == ["advisor@v0001", "advisor@v0002", "broken@v0001", "other-base@v0001"]
    assert [stored[r]["loaded"] for r in stored] == [True, False, False, False]
    assert [stored[r]["same_base"] for r in stored] == [True, True, False, False]
    assert "invalid manifest" in stored["broken@v0001"]["problem"]
    assert loaded_only["stored"] is None


def test_adapters_loaded_through_the_api_come_back_after_a_restart(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    v1, v2 = publish(store, tmp_path, "advisor"), publish(store, tmp_path, "advisor")
    at_start = publish(store, tmp_path, "pinned")
    with gateway(store, tmp_path, adapters=[at_start]) as first:
        wait_started(first)
        assert (
            first.post("/v1/adapters", headers=KEY, json={"adapter": "advisor"}).status_code == 201
        )
        assert first.post("/v1/adapters", headers=KEY, json={"adapter": v1}).status_code == 201
    assert sorted(store.list("gateways/")) == [
        "gateways/default/adapters/advisor/v0001.json",
        "gateways/default/adapters/advisor/v0002.json",
    ]  # the start-up adapter comes from the settings, not from the record
    with gateway(store, tmp_path, adapters=[at_start]) as second:
        status = wait_started(second)
        assert status["startup_errors"] == []
        loaded = [
            f"{a['name']}@{a['version']}"
            for a in second.get("/v1/adapters", headers=KEY).json()["data"]
        ]
        assert loaded == [v1, v2, at_start]
        assert answer(second, "advisor").startswith("advisor@v0002 says")
        second.delete(f"/v1/adapters/{v2}", headers=KEY)
    with gateway(store, tmp_path) as third:
        wait_started(third)
        loaded = [a["version"] for a in third.get("/v1/adapters", headers=KEY).json()["data"]]
        assert loaded == ["v0001"]  # the unloaded version stays unloaded


def test_a_recorded_adapter_that_no_longer_loads_is_reported_and_kept(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    foreign = publish(store, tmp_path, "foreign", fingerprint="sha256:elsewhere")
    store.put_bytes("gateways/default/adapters/foreign/v0001.json", b'{"adapter": "foreign@v0001"}')
    with gateway(store, tmp_path) as client:
        status = wait_started(client)
        assert (
            client.post(
                "/v1/chat/completions", headers=KEY, json={"model": "base", "messages": ASK}
            ).status_code
            == 200
        )
    (problem,) = status["startup_errors"]
    assert problem.startswith(f"{foreign} (recorded)") and "base model" in problem
    assert store.exists("gateways/default/adapters/foreign/v0001.json")
