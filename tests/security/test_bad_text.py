"""Finding 6: a lone surrogate (`"a\\ud800b"`, legal JSON, not text) gave a 500 at the gateway
(the tokenizer) and the trainer (serialising the job record). Every service answers 400 now,
naming the field, wherever the string sits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.reliability.services import APPS, AUTH, job_request, run_async

pytestmark = pytest.mark.integration

BAD = "a\ud800b"
CHAT = {"model": "base", "messages": [{"role": "user", "content": BAD}]}


def requests_for(service: str) -> list[tuple[str, dict]]:
    if service == "gateway":
        return [
            ("/v1/chat/completions", CHAT),
            ("/v1/chat/completions", {**CHAT, "stream": True}),
            ("/v1/adapters", {"adapter": BAD}),
        ]
    path, body = job_request(service)
    if service == "trainer":
        return [
            (path, {"config": {**body["config"], "run_name": BAD}}),
            (path, {**body, "resume": BAD}),
            (path, {**body, BAD: 1}),
        ]
    if service == "evaluator":
        return [
            (path, {**body, "candidates": [BAD]}),
            (path, {**body, "dataset": {"items": [{"prompt": BAD, "reference": "r"}]}}),
        ]
    return [(path, {"dataset": BAD + "\n"})]


@pytest.mark.parametrize("service", sorted(APPS))
def test_a_lone_surrogate_is_a_400_naming_the_field(tmp_path: Path, service: str) -> None:
    app = APPS[service](tmp_path)
    headers = {**AUTH, "content-type": "application/json"}

    async def scenario(client):
        return [
            await client.post(path, content=json.dumps(body).encode(), headers=headers)
            for path, body in requests_for(service)
        ]

    for response in run_async(app, scenario):
        assert response.status_code == 400, (service, response.status_code, response.text)
        assert response.json()["error"]["code"] == "invalid_text", response.text


def test_a_valid_surrogate_pair_is_still_text(tmp_path: Path) -> None:
    app = APPS["gateway"](tmp_path)
    body = {"model": "base", "messages": [{"role": "user", "content": "smile \U0001f600"}]}

    async def scenario(client):
        return await client.post(
            "/v1/chat/completions",
            headers={**AUTH, "content-type": "application/json"},
            content=json.dumps(body).encode(),
        )

    response = run_async(app, scenario)
    assert response.status_code == 200, response.text
