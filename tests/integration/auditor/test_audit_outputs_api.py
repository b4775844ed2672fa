"""A finished audit's outputs over the API, on a real demo run's store: the listing with its
status filter, the files (named as API paths), a findings page, and the cited documents."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from tests.console.in_process import APP_KEY, service_apps
from tests.console.stack import DEMO_STORE

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {APP_KEY}"}


@pytest.fixture(scope="module")
def auditor(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    store = tmp_path_factory.mktemp("audits") / "store"
    shutil.copytree(DEMO_STORE, store)
    with TestClient(service_apps(store)["auditor"]) as client:
        yield client


def gate_id(client: TestClient) -> str:
    audits = client.get("/v1/audits?status=succeeded&limit=100", headers=AUTH).json()["data"]
    return next(a["id"] for a in audits if a["request"].get("gate"))


def test_the_listing_filters_by_status_and_refuses_unknown_ones(auditor: TestClient) -> None:
    every = auditor.get("/v1/audits", headers=AUTH).json()
    assert len(every["data"]) >= 2 and not every["has_more"]
    created = [a["created_at"] for a in every["data"]]
    assert created == sorted(created, reverse=True)
    assert auditor.get("/v1/audits?status=running", headers=AUTH).json()["data"] == []
    paged = auditor.get("/v1/audits?limit=1", headers=AUTH).json()
    assert len(paged["data"]) == 1 and paged["has_more"] and paged["next_cursor"]
    refused = auditor.get("/v1/audits?status=finished", headers=AUTH)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "status"
    assert auditor.get("/v1/audits").status_code == 401


def test_files_are_served_where_the_audit_says(auditor: TestClient) -> None:
    job = auditor.get(f"/v1/audits/{gate_id(auditor)}", headers=AUTH).json()
    assert job["files"]["quarantine.jsonl"] == f"/v1/audits/{job['id']}/files/quarantine.jsonl"
    quarantine = auditor.get(job["files"]["quarantine.jsonl"], headers=AUTH)
    assert quarantine.headers["content-type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in quarantine.text.splitlines()]
    assert len(rows) == job["summary"]["data"]["gate"]["quarantined"]
    summary = auditor.get(job["files"]["summary.json"], headers=AUTH).json()
    assert summary["error_rate"] == job["summary"]["data"]["error_rate"]
    for name in ("secrets.txt", "..%2Fplan.json"):
        assert auditor.get(f"/v1/audits/{job['id']}/files/{name}", headers=AUTH).status_code == 404
    cancel = auditor.post(f"/v1/audits/{job['id']}/cancel", headers=AUTH)
    assert cancel.status_code == 409 and cancel.json()["error"]["code"] == "job_finished"


def test_findings_page_and_filter_and_their_sources_resolve(auditor: TestClient) -> None:
    job_id = gate_id(auditor)
    page = auditor.get(
        f"/v1/audits/{job_id}/findings?verdict=contradicted&limit=5", headers=AUTH
    ).json()
    assert page["total"] == 48 and len(page["data"]) == 5 and page["next_cursor"] == "5"
    first = page["data"][0]
    only = auditor.get(
        f"/v1/audits/{job_id}/findings?item={first['item_id']}&verdict=contradicted", headers=AUTH
    ).json()
    assert {f["item_id"] for f in only["data"]} == {first["item_id"]}
    evidence = first["evidence"][0]
    document = auditor.get(
        f"/v1/audits/{job_id}/sources/{evidence['doc_path']}", headers=AUTH
    ).json()
    assert document["text"][evidence["start"] : evidence["end"]] == evidence["quote"]
    missing = auditor.get(f"/v1/audits/{job_id}/sources/no-such.md", headers=AUTH)
    assert missing.status_code == 404
    assert (
        auditor.get(f"/v1/audits/{job_id}/findings?part=answers", headers=AUTH).status_code == 404
    )
