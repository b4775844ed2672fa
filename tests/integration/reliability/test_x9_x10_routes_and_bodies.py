"""docs/reliability.md, X9 (route-table walk) and X10 (oversized bodies) on every service's app.

Figures: non-public routes that answer without a valid key (0); oversized bodies answered 413
(all), and the memory a 64 MiB streamed body costs the server (bounded by the limit)."""

from __future__ import annotations

import asyncio
import re
import tracemalloc
from pathlib import Path

import pytest

from tests.conftest import REPO

from .services import APPS, KEY, PUBLIC, figure, routes, run_async

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", sorted(APPS))
def test_x9_no_non_public_route_answers_without_a_key(service: str, tmp_path: Path) -> None:
    app = APPS[service](tmp_path)
    table = routes(app)
    private = [(m, re.sub(r"\{[^}]+\}", "x", p)) for m, p in table if p not in PUBLIC]
    assert len(private) >= 2, table

    async def walk(client):  # type: ignore[no-untyped-def]
        out = []
        for method, path in private:
            for headers in ({}, {"Authorization": "Bearer wrong-key"}, {"Authorization": KEY}):
                r = await client.request(method, path, headers=headers)
                out.append((method, path, r.status_code))
        return out

    answered = [(m, p, s) for m, p, s in run_async(app, walk) if s != 401]
    figure(
        f"X9 route walk {service}",
        f"{len(private)} non-public routes x 3 credential-less "
        f"requests, {len(answered)} answered without a key",
        runs=3 * len(private),
        faults=3 * len(private),
        lost=len(answered),
        refused=3 * len(private) - len(answered),
        ok=answered == [],
    )
    assert answered == []


def _oversized_body_status(app, limit: int, declared: bool) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Stream 64 x 1 MiB (or just declare it) to the first POST route; (status, peak bytes)."""
    path = next(p for m, p in routes(app) if m == "POST")
    chunk, chunks = b"x" * (1024 * 1024), 64
    sent: list[int] = []
    statuses: list[int] = []

    async def receive():  # type: ignore[no-untyped-def]
        sent.append(1)
        more = len(sent) < chunks
        return {"type": "http.request", "body": chunk, "more_body": more}

    async def send(message):  # type: ignore[no-untyped-def]
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    headers = [(b"content-type", b"application/json"), (b"authorization", f"Bearer {KEY}".encode())]
    if declared:
        headers.append((b"content-length", str(chunks * len(chunk)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("svc", 80),
    }
    tracemalloc.start()
    try:
        asyncio.run(app(scope, receive, send))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return statuses[0], peak


@pytest.mark.parametrize("service", sorted(APPS))
def test_x10_oversized_bodies_get_413_with_bounded_memory(service: str, tmp_path: Path) -> None:
    limit = 64 * 1024
    extra = {
        "evaluator": {"max_request_bytes": limit},
        "auditor": {"auditor_max_body_bytes": limit},
        "gateway": {"max_body_bytes": limit},
        "trainer": {},
    }[service]
    app = APPS[service](tmp_path, **extra)
    declared, _ = _oversized_body_status(app, limit, declared=True)
    streamed, peak = _oversized_body_status(app, limit, declared=False)
    good = (declared, streamed) == (413, 413) and peak < 8 * 1024 * 1024
    figure(
        f"X10 oversized bodies {service}",
        f"64 MiB declared -> {declared}, 64 MiB streamed "
        f"without Content-Length -> {streamed}, peak allocation {peak / 1e6:.2f} MB",
        runs=2,
        faults=2,
        refused=[declared, streamed].count(413),
        ok=good,
    )
    assert (declared, streamed) == (413, 413)
    assert peak < 8 * 1024 * 1024  # far below the 64 MiB sent: never buffered whole


# --- secrets -------------------------------------------------------------------------------
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|_KEYS?$|TOKEN|ROOT_USER)", re.I)
ASSIGN = re.compile(r"^\s*-?\s*([A-Z][A-Z0-9_]+)\s*[:=]\s*(.*)$")


def _literal_secret_values(path: Path) -> list[str]:
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        match = ASSIGN.match(line)
        if not match or not SECRET_NAME.search(match.group(1)):
            continue
        value = match.group(2).strip().strip("'\"")
        # Allowed: empty, a reference to a variable (required or not) or a secret reference.
        if value and not value.startswith(("$", "{", "secretKeyRef")) and "${" not in value:
            found.append(f"{path.relative_to(REPO)}:{number}: {match.group(1)}")
    return found


def test_no_default_credentials_in_deployment_files() -> None:
    """Compose, the Kubernetes manifests and .env.example carry no credential value; the
    settings refuse placeholders outside development (tests/unit/test_settings.py), and adapter
    names cannot escape their prefix (tests/integration/test_bundle_store.py::
    test_hostile_names_are_refused, tests/unit/inference)."""
    files = [REPO / "compose.yaml", REPO / ".env.example", *sorted((REPO / "k8s").rglob("*.yaml"))]
    assert len(files) > 5
    found = [hit for f in files for hit in _literal_secret_values(f)]
    figure(
        "secrets",
        f"{len(files)} deployment files scanned, {len(found)} literal credentials",
        runs=len(files),
        faults=0,
        lost=len(found),
        ok=found == [],
    )
    assert found == []
