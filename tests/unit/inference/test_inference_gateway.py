"""The gateway over a scripted engine: OpenAI shapes, keys on every route, 4xx bodies,
413 and 429 + Retry-After, SSE chunks, metrics."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from scripted_engine import ScriptedEngine

from advisor_inference.core.config import Settings
from advisor_inference.engines.base import EngineInfo
from advisor_inference.main import create_app
from advisor_shared.store import LocalStore
from tests.integration.reliability.services import figure

pytestmark = pytest.mark.unit
KEY = {"Authorization": "Bearer k-123"}
PUBLIC = {"/healthz", "/readyz"}
HELLO = {"model": "base", "messages": [{"role": "user", "content": "hello there"}]}


def gateway(tmp_path: Path, engine: ScriptedEngine | None = None, **settings: object):
    config = Settings(api_keys=["k-123"], max_body_bytes=4096, **settings)  # type: ignore[arg-type]
    return create_app(config, engine=engine or ScriptedEngine(), store=LocalStore(tmp_path))


def run(app, scenario):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await scenario(client)

    return asyncio.run(main())


def test_every_non_public_route_answers_401_without_a_key(tmp_path: Path) -> None:
    app = gateway(tmp_path, environment="production")
    # Every route the app serves, from its own table (the schema is built from it).
    routes = [(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops]
    assert {p for _, p in routes} >= PUBLIC
    private = [
        (m, p.replace("{name}", "x").replace("{model}", "base"))
        for m, p in routes
        if p not in PUBLIC
    ]
    assert {p for _, p in private} >= {"/v1/models", "/v1/chat/completions", "/v1/adapters"}

    async def walk(client: httpx.AsyncClient) -> list[tuple[str, str, int, str]]:
        out = []
        for method, path in private:
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                r = await client.request(method, path, headers=headers)
                out.append((method, path, r.status_code, r.json()["error"]["type"]))
        return out

    results = run(app, walk)
    docs = run(app, lambda client: client.get("/openapi.json"))
    assert docs.status_code == 404  # no unauthenticated schema outside development
    assert all(status == 401 and kind == "authentication_error" for _, _, status, kind in results)
    assert len(results) == 2 * len(private)


def test_chat_completion_in_openai_shape(tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient) -> dict:
        r = await client.post("/v1/chat/completions", json=HELLO, headers=KEY)
        assert r.status_code == 200
        return r.json()

    body = run(gateway(tmp_path), scenario)
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "base says hello there"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ]
    assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8}


def test_responses_name_the_chat_template_they_were_formatted_with(tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        plain = await client.post("/v1/chat/completions", json=HELLO, headers=KEY)
        streamed = await client.post(
            "/v1/chat/completions", json={**HELLO, "stream": True}, headers=KEY
        )
        return plain, streamed

    known = ScriptedEngine(EngineInfo("scripted", "sha256:scripted", "ab" * 32, 64))
    plain, streamed = run(gateway(tmp_path, known), scenario)
    assert plain.headers["x-advisor-chat-template-sha256"] == "ab" * 32
    assert streamed.headers["x-advisor-chat-template-sha256"] == "ab" * 32
    unknown = run(gateway(tmp_path), scenario)[0]
    assert "x-advisor-chat-template-sha256" not in unknown.headers


def test_stream_chunks_usage_and_done(tmp_path: Path) -> None:
    request = {**HELLO, "stream": True, "stream_options": {"include_usage": True}}

    async def scenario(client: httpx.AsyncClient) -> str:
        r = await client.post("/v1/chat/completions", json=request, headers=KEY)
        assert r.headers["content-type"].startswith("text/event-stream")
        return r.text

    text = run(gateway(tmp_path), scenario)
    events = [e.removeprefix("data: ") for e in text.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert content == "base says hello there"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4
    assert all(c["usage"] is None for c in chunks[:-1])


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({**HELLO, "model": "nope"}, 404, "model_not_found", "model"),
        ({**HELLO, "max_tokens": 0}, 400, "invalid_value", "max_tokens"),
        ({**HELLO, "max_tokens": 10_000}, 400, "invalid_value", "max_tokens"),
        ({**HELLO, "n": 9}, 400, "invalid_value", "n"),
        # Nothing is silently ignored: unknown fields and unhonoured parameters name themselves.
        ({**HELLO, "guided_regex": "a+"}, 400, "unknown_parameter", "guided_regex"),
        ({**HELLO, "user": "u-1"}, 400, "unsupported_parameter", "user"),
        ({**HELLO, "tools": [{"type": "function"}]}, 400, "unsupported_parameter", "tools"),
        (
            {**HELLO, "response_format": {"type": "json_object"}},
            400,
            "unsupported_parameter",
            "response_format",
        ),
        ({**HELLO, "response_format": {"type": "yaml"}}, 400, "invalid_value", "response_format"),
        ({**HELLO, "logit_bias": {"x": 1}}, 400, "invalid_value", "logit_bias"),
        (
            {**HELLO, "stream_options": {"include_obfuscation": True}},
            400,
            "unsupported_parameter",
            "stream_options",
        ),
        (
            {"model": "base", "messages": [{"role": "user", "content": "x", "tool_calls": [{}]}]},
            400,
            "invalid_value",
            "messages.0",
        ),
        ({**HELLO, "temperature": 3}, 400, "invalid_value", "temperature"),
        ({"model": "base", "messages": []}, 400, "invalid_value", "messages"),
        (
            {"model": "base", "messages": [{"role": "tool", "content": "x"}]},
            400,
            "invalid_value",
            None,
        ),
        # The scripted engine has no token probabilities: the 400 names the parameter.
        ({**HELLO, "logprobs": True}, 400, "invalid_value", "logprobs"),
        ({**HELLO, "top_logprobs": 3}, 400, "invalid_value", "top_logprobs"),
        ({**HELLO, "logprobs": True, "top_logprobs": 21}, 400, "invalid_value", "top_logprobs"),
    ],
)
def test_client_faults_get_openai_error_bodies(
    tmp_path: Path, body: dict, status: int, code: str, param: str | None
) -> None:
    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/v1/chat/completions", json=body, headers=KEY)

    r = run(gateway(tmp_path), scenario)
    error = r.json()["error"]
    assert r.status_code == status and error["code"] == code
    assert set(error) == {"message", "type", "param", "code"}
    if param is not None:
        assert error["param"] == param
    if "n" in body and body["n"] == 2:
        assert "only n=1 is supported" in error["message"]


def test_malformed_json_and_oversized_bodies(tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        headers = {**KEY, "content-type": "application/json"}
        bad = await client.post("/v1/chat/completions", content=b'{"model": ', headers=headers)
        big = await client.post(
            "/v1/chat/completions",
            headers=headers,
            content=json.dumps({**HELLO, "pad": "x" * 5000}).encode(),
        )
        return bad, big

    bad, big = run(gateway(tmp_path), scenario)
    assert (
        bad.status_code == 400
        and bad.json()["error"]["message"] == "request body is not valid JSON"
    )
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"


def test_beyond_max_in_flight_answers_429_with_retry_after(tmp_path: Path, capsys) -> None:
    engine = ScriptedEngine()
    app = gateway(tmp_path, engine, max_in_flight=2, retry_after_s=3)

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        engine.release.clear()
        held = [
            asyncio.create_task(client.post("/v1/chat/completions", json=HELLO, headers=KEY))
            for _ in range(2)
        ]
        while engine.running < 2:
            await asyncio.sleep(0.01)
        extra = await asyncio.gather(
            *(client.post("/v1/chat/completions", json=HELLO, headers=KEY) for _ in range(3))
        )
        engine.release.set()
        done = await asyncio.gather(*held)
        after = await client.post("/v1/chat/completions", json=HELLO, headers=KEY)
        metrics = await client.get("/metrics", headers=KEY)
        return [*extra, *done, after, metrics]

    *extra, first, second, after, metrics = run(app, scenario)
    statuses = [r.status_code for r in extra]
    retry_after = [r.headers.get("retry-after") for r in extra]
    held = [first.status_code, second.status_code, after.status_code]
    text = (
        f"2 requests held in a scripted engine with 2 in flight at most, 3 more -> "
        f"{statuses} with Retry-After {retry_after}; the held ones and the next -> {held}"
    )
    with capsys.disabled():
        figure(
            "X11 429 + Retry-After (scripted engine)",
            text,
            runs=6,
            faults=3,
            refused=statuses.count(429),
            ok=statuses == [429] * 3 and retry_after == ["3"] * 3 and held == [200] * 3,
        )
    assert statuses == [429, 429, 429]
    assert extra[0].headers["retry-after"] == "3"
    assert extra[0].json()["error"] == {
        "message": "the server is at capacity (2 requests in flight); retry later",
        "type": "rate_limit_error",
        "param": None,
        "code": "overloaded",
    }
    assert first.status_code == second.status_code == after.status_code == 200
    assert 'advisor_inference_rejections_total{reason="overloaded"} 3.0' in metrics.text
    assert 'advisor_inference_requests_total{model="base",status="200"} 3.0' in metrics.text
    assert "advisor_inference_in_flight 0.0" in metrics.text


def test_models_and_probes(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    engine.adapters.add("not-checked")  # attached in the engine but never through the service

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, ...]:
        return (
            await client.get("/v1/models", headers=KEY),
            await client.get("/healthz"),
            await client.get("/v1/models/base", headers=KEY),
            await client.get("/v1/models/not-checked", headers=KEY),
        )

    models, healthz, one, unchecked = run(gateway(tmp_path, engine), scenario)
    assert [m["id"] for m in models.json()["data"]] == ["base"]
    assert one.json()["id"] == "base" and unchecked.status_code == 404
    assert healthz.json()["status"] == "ok"


def test_a_client_gone_before_the_first_chunk_frees_its_slot(tmp_path: Path) -> None:
    app = gateway(tmp_path, max_in_flight=1)
    body = json.dumps({**HELLO, "stream": True}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 1),
        "server": ("gw", 80),
        "headers": [
            (b"authorization", b"Bearer k-123"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            raise OSError("client went away")

    async def scenario() -> int:
        with pytest.raises(OSError):
            await app(scope, receive, send)
        return int(app.state.gate.in_flight)

    assert asyncio.run(scenario()) == 0
