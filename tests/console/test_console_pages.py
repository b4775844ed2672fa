"""Every console page and every refusal, in-process: the gateway app with the console, and the
real evaluator, auditor and trainer apps behind an in-process transport, all on a copy of a
real demo run's store (tests/fixtures/demo_store)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.console.in_process import ADMIN_KEY, APP_KEY, gateway_app, service_apps
from tests.console.stack import DEMO_STORE

pytestmark = pytest.mark.integration
HTML = {"accept": "text/html"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("console") / "store"
    shutil.copytree(DEMO_STORE, target)
    return target


@pytest.fixture(scope="module")
def gateway(store: Path):  # type: ignore[no-untyped-def]
    with TestClient(gateway_app(store, service_apps(store)), follow_redirects=False) as client:
        yield client


def signed_in(gateway: TestClient, key: str = ADMIN_KEY) -> dict[str, str]:
    """The session cookie and CSRF token of a sign-in with `key`."""
    response = gateway.post("/ui/login", data={"key": key, "next": "/ui/jobs"})
    assert response.status_code == 303
    cookie = response.cookies["advisor_console"]
    gateway.cookies.clear()  # each request below names its user
    page = gateway.get("/ui/jobs", headers={**HTML, **as_user(cookie)})
    token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
    assert token is not None
    return {"cookie": cookie, "csrf": token[1]}


def as_user(cookie: str) -> dict[str, str]:
    """The session cookie as a header (one client serves several users in these tests)."""
    return {"cookie": f"advisor_console={cookie}"}


def job_ids(store: Path, kind: str) -> list[str]:
    return sorted(p.stem for p in (store / "jobs" / kind).glob("*.json"))


def gate_audit(store: Path) -> str:
    return next(
        j
        for j in job_ids(store, "audit")
        if json.loads((store / f"jobs/audit/{j}.json").read_text())["request"].get("gate")
    )


PAGES = [
    "/ui/jobs",
    "/ui/jobs/rows",
    "/ui/adapters",
    "/ui/evaluations/x",
    "/ui/audits/x",
    "/ui/training-jobs/x",
    "/ui/training/a/v0001",
    "/ui/jobs/audit/x/status",
    "/ui/audits/x/source?doc=a&start=0&end=1",
    "/ui/evaluations/x/plots/deltas.png",
]


@pytest.mark.parametrize("path", PAGES)
def test_without_a_session_a_page_goes_to_sign_in_and_the_rest_is_401(gateway, path) -> None:
    page = gateway.get(path, headers=HTML)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/ui/login?next=%2Fui%2F")
    fetched = gateway.get(path)
    assert fetched.status_code == 401 and fetched.json()["error"]["code"] == "login_required"
    forged = gateway.get(path, headers=as_user("gAAAAABforged"))
    assert forged.status_code == 401


@pytest.mark.parametrize(
    "path",
    ["/ui/jobs/evaluation/x/cancel", "/ui/adapters/load", "/ui/adapters/unload", "/ui/logout"],
)
def test_actions_without_a_session_are_401(gateway, path) -> None:
    assert gateway.post(path, data={"csrf": "x"}).status_code == 401


def test_sign_in_seals_the_key_in_a_strict_cookie_and_refuses_bad_keys(gateway) -> None:
    refused = gateway.post("/ui/login", data={"key": "wrong", "next": "/ui/jobs"})
    assert refused.status_code == 401 and "not accepted" in refused.text
    assert "set-cookie" not in refused.headers
    response = gateway.post("/ui/login", data={"key": APP_KEY, "next": "https://evil.example/"})
    gateway.cookies.clear()
    assert response.headers["location"] == "/ui/jobs"  # no redirect off the console
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert APP_KEY not in cookie
    again = gateway.get(
        "/ui/login?next=/ui/adapters", headers=as_user(response.cookies["advisor_console"])
    )
    assert again.status_code == 303 and again.headers["location"] == "/ui/adapters"


def test_every_view_renders_the_demo_run(gateway, store: Path) -> None:
    session = signed_in(gateway)
    user = as_user(session["cookie"])

    def get(path: str) -> str:
        response = gateway.get(path, headers={**HTML, **user})
        assert response.status_code == 200, (path, response.text[:500])
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
        return response.text

    evaluation = job_ids(store, "evaluation")[0]
    jobs = get("/ui/jobs")
    assert evaluation in jobs and "succeeded" in jobs and "training data, gated" in jobs
    assert "Not shown" not in jobs  # every job API is configured and answers
    page = get(f"/ui/evaluations/{evaluation}")
    assert "Fidelity" in page and "BERTScore" in page and 'class="table matrix"' in page
    assert page.count('class="answer-cell"') >= 2 * 3  # prompts × three candidates
    filtered = get(f"/ui/evaluations/{evaluation}?confident_error=true")
    assert 'class="claim' in filtered and "/source?doc=" in filtered
    link = re.search(r'href="(/ui/audits/[^"]+/source\?[^"]+)"', filtered)
    assert link is not None
    source = get(link[1].replace("&amp;", "&"))
    assert '<mark id="span" class="evidence-span">' in source and "changed since" not in source
    plot = gateway.get(f"/ui/evaluations/{evaluation}/plots/deltas.png", headers=user)
    assert plot.status_code == 200 and plot.content.startswith(b"\x89PNG")
    audit = get(f"/ui/audits/{gate_audit(store)}")
    assert "Quarantine" in audit and "error rate by class" in audit and "<svg" in audit
    adapters = get("/ui/adapters")
    names = re.findall(r'href="/ui/training/([a-z0-9-]+)/(v\d+)"', adapters)
    assert len({n for n, _ in names}) >= 2
    training = get(f"/ui/training/{names[0][0]}/{names[0][1]}")
    assert "handoff →" in training and "verified against its manifest" in training
    status = get(f"/ui/jobs/evaluation/{evaluation}/status")
    assert "data-finished" in status


def test_actions_need_the_csrf_token_and_the_right_key(gateway, store: Path) -> None:
    admin = signed_in(gateway)
    app = signed_in(gateway, APP_KEY)
    evaluation = job_ids(store, "evaluation")[0]
    cancel = f"/ui/jobs/evaluation/{evaluation}/cancel"
    no_token = gateway.post(cancel, headers=as_user(admin["cookie"]))
    other_token = gateway.post(cancel, data={"csrf": app["csrf"]}, headers=as_user(admin["cookie"]))
    assert (no_token.status_code, other_token.status_code) == (403, 403)
    finished = gateway.post(
        cancel,
        data={"csrf": admin["csrf"]},
        headers={"x-requested-with": "console", **as_user(admin["cookie"])},
    )
    assert finished.status_code == 409 and "nothing to cancel" in finished.json()["error"]
    name = next((store / "adapters").iterdir()).name
    refused = gateway.post(
        "/ui/adapters/load",
        data={"csrf": app["csrf"], "adapter": name},
        headers=as_user(app["cookie"]),
    )
    assert "needs+an+admin+key" in refused.headers["location"]
    # The snapshot keeps no adapter weights: the gateway refuses the bundle and says why.
    missing = gateway.post(
        "/ui/adapters/load",
        data={"csrf": admin["csrf"], "adapter": name},
        headers=as_user(admin["cookie"]),
    )
    assert missing.status_code == 303 and "error=" in missing.headers["location"]
    out = gateway.post("/ui/logout", data={"csrf": app["csrf"]}, headers=as_user(app["cookie"]))
    assert out.status_code == 303 and 'advisor_console=""' in out.headers["set-cookie"]


def test_a_job_service_that_does_not_answer_is_a_message(store: Path) -> None:
    from advisor_inference.core.config import Settings
    from advisor_inference.main import create_app
    from advisor_shared.store import LocalStore
    from tests.unit.inference.scripted_engine import ScriptedEngine

    settings = Settings(
        environment="test",
        api_keys=[APP_KEY],
        evaluator_url="http://127.0.0.1:9",
        auditor_url=None,
        console_backend_timeout_s=2,
    )
    app = create_app(settings, engine=ScriptedEngine(), store=LocalStore(store))
    with TestClient(app, follow_redirects=False) as client:
        user = as_user(signed_in(client, APP_KEY)["cookie"])
        jobs = client.get("/ui/jobs", headers={**HTML, **user})
        page = client.get("/ui/evaluations/eval-x", headers={**HTML, **user})
        audit = client.get("/ui/audits/audit-x", headers=user)
    assert jobs.status_code == 200
    assert "the evaluator does not answer" in jobs.text
    assert "Not shown: the auditor, trainer APIs" in jobs.text
    assert page.status_code == 503 and "the evaluator does not answer" in page.text
    assert audit.status_code == 503 and "ADVISOR_AUDITOR_URL" in audit.json()["error"]["message"]


class StubAdapters:
    """The gateway's adapter registry as the console sees it: what it serves, load, unload
    (a real load needs weights, which the snapshot leaves out)."""

    def __init__(self) -> None:
        self.served: dict[str, object] = {}
        self.calls: list[tuple[str, str, bool]] = []

    def list(self) -> list[object]:
        return [self.served[key] for key in sorted(self.served)]

    async def load(self, text: str, *, record: bool = False) -> object:
        from types import SimpleNamespace

        from advisor_shared.bundle import BundleRef

        self.calls.append(("load", text, record))
        loaded = SimpleNamespace(
            ref=BundleRef.parse(text),
            loaded_at="2026-01-01T00:00:00+00:00",
            template=SimpleNamespace(matches=True),
            canary=SimpleNamespace(differing=3, prompts=4),
        )
        self.served[text] = loaded
        return loaded

    async def unload(self, text: str) -> list[object]:
        self.calls.append(("unload", text, False))
        return [self.served.pop(text)]


def test_an_admin_loads_and_unloads_a_version_from_the_page(store: Path) -> None:
    import dataclasses

    app = gateway_app(store, service_apps(store))
    stub = StubAdapters()
    app.state.console = dataclasses.replace(app.state.console, adapters=stub)
    name = sorted(p.name for p in (store / "adapters").iterdir())[0]
    with TestClient(app, follow_redirects=False) as client:
        admin = signed_in(client)
        user = as_user(admin["cookie"])
        loaded = client.post(
            "/ui/adapters/load",
            data={"csrf": admin["csrf"], "adapter": f"{name}@v0002"},
            headers=user,
        )
        page = client.get("/ui/adapters", headers={**HTML, **user}).text
        unloaded = client.post(
            "/ui/adapters/unload",
            data={"csrf": admin["csrf"], "adapter": f"{name}@v0002"},
            headers=user,
        )
        after = client.get("/ui/adapters", headers={**HTML, **user}).text
    assert loaded.headers["location"] == f"/ui/adapters?notice=loaded+{name}%40v0002"
    assert stub.calls == [("load", f"{name}@v0002", True), ("unload", f"{name}@v0002", False)]
    assert "canary: 3/4 answers changed" in page and 'value="' + name + '@v0002"' in page
    assert "1 adapter version loaded" in page and "0 adapter versions loaded" in after
    assert unloaded.headers["location"] == f"/ui/adapters?notice=unloaded+{name}%40v0002"
