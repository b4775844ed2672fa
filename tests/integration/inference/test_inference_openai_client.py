"""`advisor serve` as a real process on a free port, driven by the official `openai` client:
base and adapter answer differently, 4xx bodies, admin load/unload under load, hostile bundles."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from advisor_shared.bundle import BundleRef
from advisor_shared.store import LocalStore
from tests.conftest import free_port
from tests.integration.inference import hostile_bundles as hostile
from tests.unit.inference.lora_factory import publish

pytestmark = pytest.mark.integration
KEY = "test-key-7d1f"
AUTH = {"Authorization": f"Bearer {KEY}"}
ASK = [{"role": "user", "content": "What is the application deadline?"}]


@dataclass
class Gateway:
    url: str
    store: LocalStore
    root: Path
    base_dir: Path

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=KEY, max_retries=0)

    def publish(self, name: str, adapter_dir: Path, **kwargs: object) -> BundleRef:
        return publish(self.store, name, adapter_dir, self.base_dir, self.root / "cache", **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def gateway(
    tiny_model_dir: Path, lora_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("gateway")
    store = LocalStore(root / "store")
    gw = Gateway("", store, root, tiny_model_dir)
    gw.publish("alpha", lora_dirs["alpha"])
    port = free_port()
    env = {**os.environ, "ADVISOR_STORE_URL": f"file://{root / 'store'}",
           "ADVISOR_CACHE_DIR": str(root / "cache"), "ADVISOR_DEFAULT_MAX_TOKENS": "16",
           "ADVISOR_MAX_BODY_BYTES": "65536", "ADVISOR_BATCH_WINDOW_MS": "10"}  # fmt: skip
    advisor = Path(sys.executable).with_name("advisor")
    log = open(root / "server.log", "w")  # noqa: SIM115 - closed after the process ends
    proc = subprocess.Popen(
        [str(advisor), "serve", "--port", str(port), "--base", str(tiny_model_dir),
         "--adapter", "alpha", "--api-key", KEY, "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    gw.url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(gw.url, proc, root / "server.log")
        yield gw
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"advisor serve exited:\n{log.read_text()[-3000:]}")
        try:
            ready = httpx.get(f"{url}/readyz", timeout=2)
            if ready.status_code == 200:
                status = httpx.get(f"{url}/v1/status", headers=AUTH, timeout=2)
                assert status.json()["startup_errors"] == []
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"gateway not ready:\n{log.read_text()[-3000:]}")


def test_sync_client_base_and_adapter_answer_differently(gateway: Gateway) -> None:
    client = gateway.client()
    assert {m.id for m in client.models.list()} == {"base", "alpha"}
    base = client.chat.completions.create(model="base", messages=ASK, max_tokens=8, temperature=0)
    alpha = client.chat.completions.create(model="alpha", messages=ASK, max_tokens=8, temperature=0)
    assert base.choices[0].message.content != alpha.choices[0].message.content
    assert base.model == "base" and alpha.model == "alpha"
    assert base.usage is not None and base.usage.completion_tokens >= 1
    assert base.usage.total_tokens == base.usage.prompt_tokens + base.usage.completion_tokens


def test_async_client_and_streaming_give_the_same_greedy_answers(gateway: Gateway) -> None:
    expected = {
        m: gateway.client().chat.completions.create(model=m, messages=ASK, max_tokens=8,
                                                    temperature=0).choices[0].message.content
        for m in ("base", "alpha")
    }  # fmt: skip

    async def scenario() -> tuple[list[str | None], str, object]:
        client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0)
        answers = await asyncio.gather(*(
            client.chat.completions.create(model=m, messages=ASK, max_tokens=8, temperature=0)
            for m in ("base", "alpha", "base", "alpha")))  # fmt: skip
        stream = await client.chat.completions.create(
            model="alpha", messages=ASK, max_tokens=8, temperature=0, stream=True,
            stream_options={"include_usage": True})  # fmt: skip
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            if chunk.usage:
                usage = chunk.usage
        await client.close()
        return [a.choices[0].message.content for a in answers], text, usage

    answers, streamed, usage = asyncio.run(scenario())
    assert answers == [expected["base"], expected["alpha"]] * 2
    assert streamed == expected["alpha"]
    assert usage is not None and usage.completion_tokens >= 1  # type: ignore[attr-defined]

    sync_stream = gateway.client().chat.completions.create(
        model="base", messages=ASK, max_tokens=8, temperature=0, stream=True)  # fmt: skip
    assert (
        "".join(c.choices[0].delta.content or "" for c in sync_stream if c.choices)
        == expected["base"]
    )


def test_logprobs_in_openai_shape_streamed_and_not(gateway: Gateway) -> None:
    """`logprobs` / `top_logprobs` through the official client: one entry per generated token
    whose bytes spell the answer, sorted alternatives, the chosen token the likeliest under
    greedy decoding, and the same tokens and values streamed."""
    client = gateway.client()
    asked = {"model": "alpha", "messages": ASK, "max_tokens": 8, "temperature": 0,
             "logprobs": True, "top_logprobs": 5}  # fmt: skip
    answer = client.chat.completions.create(**asked)  # type: ignore[call-overload]
    choice = answer.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    tokens = choice.logprobs.content
    assert len(tokens) == answer.usage.completion_tokens - (choice.finish_reason == "stop")  # type: ignore[union-attr]
    # A random model emits stray bytes; the tokenizer decodes them as U+FFFD, as this does.
    spelled = b"".join(bytes(t.bytes or []) for t in tokens).decode(errors="replace")
    assert spelled == choice.message.content
    for token in tokens:
        assert len(token.top_logprobs) == 5 and token.logprob <= 0.0
        values = [top.logprob for top in token.top_logprobs]
        assert values == sorted(values, reverse=True)
        assert token.top_logprobs[0].token == token.token
        assert token.top_logprobs[0].logprob == pytest.approx(token.logprob)
        assert sum(math.exp(v) for v in values) <= 1.0 + 1e-6

    stream = client.chat.completions.create(**asked, stream=True)  # type: ignore[call-overload]
    streamed = [t for c in stream if c.choices and c.choices[0].logprobs
                for t in c.choices[0].logprobs.content or []]  # fmt: skip
    assert [t.token for t in streamed] == [t.token for t in tokens]
    assert [t.logprob for t in streamed] == pytest.approx([t.logprob for t in tokens], abs=1e-5)

    plain = client.chat.completions.create(model="base", messages=ASK, max_tokens=2)
    assert plain.choices[0].logprobs is None
    with pytest.raises(openai.BadRequestError) as unpaired:
        client.chat.completions.create(model="base", messages=ASK, top_logprobs=2)
    assert unpaired.value.body["param"] == "top_logprobs"  # type: ignore[index]


def test_client_faults_raise_the_right_openai_errors(gateway: Gateway) -> None:
    client = gateway.client()
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nobody", messages=ASK)
    assert missing.value.body["code"] == "model_not_found"  # type: ignore[index]
    bad_key = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        bad_key.chat.completions.create(model="base", messages=ASK)
    assert auth.value.body["code"] == "invalid_api_key"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as too_many:
        client.chat.completions.create(model="base", messages=ASK, max_tokens=100_000)
    assert too_many.value.body["param"] == "max_tokens"  # type: ignore[index]
    assert "between 1 and" in too_many.value.body["message"]  # type: ignore[index]
    malformed = httpx.post(f"{gateway.url}/v1/chat/completions", headers=AUTH,
                           json={"model": "base", "messages": "not a list"})  # fmt: skip
    assert malformed.status_code == 400
    assert malformed.json()["error"]["type"] == "invalid_request_error"
    huge = httpx.post(f"{gateway.url}/v1/chat/completions", headers=AUTH,
                      json={"model": "base", "messages": [{"role": "user", "content": "x" * 70_000}]})  # fmt: skip
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "body_too_large"


def test_adapter_load_and_unload_while_requests_are_in_flight(
    gateway: Gateway, lora_dirs: dict[str, Path]
) -> None:
    gateway.publish("beta", lora_dirs["beta"])

    async def scenario() -> tuple[list[object], list[int]]:
        client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0)
        async with httpx.AsyncClient(base_url=gateway.url, headers=AUTH, timeout=60) as admin:

            async def traffic(i: int) -> str | None:
                model = ("base", "alpha")[i % 2]
                if i % 3 == 0:
                    stream = await client.chat.completions.create(
                        model=model, messages=ASK, max_tokens=12, stream=True)  # fmt: skip
                    return "".join(
                        [c.choices[0].delta.content or "" async for c in stream if c.choices]
                    )
                answer = await client.chat.completions.create(
                    model=model, messages=ASK, max_tokens=12
                )
                return answer.choices[0].message.content

            async def churn() -> list[int]:
                statuses = []
                for _ in range(3):
                    statuses.append(
                        (await admin.post("/v1/adapters", json={"adapter": "beta"})).status_code
                    )
                    beta = await client.chat.completions.create(
                        model="beta", messages=ASK, max_tokens=4
                    )
                    assert beta.model == "beta"
                    statuses.append((await admin.delete("/v1/adapters/beta")).status_code)
                return statuses

            results = await asyncio.gather(
                *(traffic(i) for i in range(12)), churn(), return_exceptions=True
            )
        await client.close()
        return list(results[:-1]), results[-1]  # type: ignore[return-value]

    requests, statuses = asyncio.run(scenario())
    failures = [r for r in requests if isinstance(r, BaseException)]
    assert failures == [] and all(isinstance(r, str) for r in requests)
    assert statuses == [201, 200] * 3


def test_hostile_bundles_are_refused_and_the_engine_stays_healthy(
    gateway: Gateway, lora_dirs: dict[str, Path]
) -> None:
    store = gateway.store
    cases: dict[str, tuple[int, str]] = {}

    def case(name: str, status: int, words: str) -> str:
        cases[name] = (status, words)
        return name

    hostile.flip_byte(
        store, gateway.publish(case("flipped", 422, "does not match its sha256"), lora_dirs["beta"])
    )
    hostile.truncate(
        store, gateway.publish(case("truncated", 422, "invalid_bundle"), lora_dirs["beta"])
    )
    hostile.header_past_eof(
        store, gateway.publish(case("past-eof", 422, "past the end of the file"), lora_dirs["beta"])
    )
    hostile.pickle_weights(
        store, gateway.publish(case("pickled", 422, "safetensors"), lora_dirs["beta"])
    )
    hostile.pickle_beside(
        store, gateway.publish(case("pickle-bin", 422, "unexpected file"), lora_dirs["beta"])
    )
    gateway.publish(
        case("wrong-base", 422, "base_model_mismatch"),
        lora_dirs["beta"],
        fingerprint="sha256:" + "0" * 64,
    )
    gateway.publish(case("too-wide", 422, "rank_too_high"), lora_dirs["wide"])
    hostile.bad_config(store, gateway.publish(case("lm-head", 422, "target_modules_not_allowed"), lora_dirs["beta"]),
                       target_modules=["q_proj", "lm_head"])  # fmt: skip
    case("../etc", 400, "invalid adapter name")
    case("beta/../../x", 400, "invalid adapter name")
    case("never-published", 404, "no committed bundle")
    before = {m.id for m in gateway.client().models.list()}
    for ref, (status, words) in cases.items():
        response = httpx.post(f"{gateway.url}/v1/adapters", headers=AUTH, json={"adapter": ref})
        assert response.status_code == status, (ref, response.text)
        error = response.json()["error"]
        assert words in f"{error['message']} {error['code']}", (ref, error)
        assert httpx.get(f"{gateway.url}/healthz").status_code == 200
    assert {m.id for m in gateway.client().models.list()} == before
    assert (
        gateway.client().chat.completions.create(model="alpha", messages=ASK, max_tokens=4).choices
    )
