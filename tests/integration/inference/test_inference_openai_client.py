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
    env = {
        **os.environ,
        "ADVISOR_STORE_URL": f"file://{root / 'store'}",
        "ADVISOR_CACHE_DIR": str(root / "cache"),
        "ADVISOR_DEFAULT_MAX_TOKENS": "16",
        "ADVISOR_MAX_BODY_BYTES": "65536",
        "ADVISOR_BATCH_WINDOW_MS": "10",
    }
    advisor = Path(sys.executable).with_name("advisor")
    log = open(root / "server.log", "w")  # noqa: SIM115 - closed after the process ends
    proc = subprocess.Popen(
        [
            str(advisor),
            "serve",
            "--port",
            str(port),
            "--base",
            str(tiny_model_dir),
            "--adapter",
            "alpha",
            "--api-key",
            KEY,
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
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
    assert {m.id for m in client.models.list()} == {"base", "alpha", "alpha@v0001"}
    base = client.chat.completions.create(model="base", messages=ASK, max_tokens=8, temperature=0)
    alpha = client.chat.completions.create(model="alpha", messages=ASK, max_tokens=8, temperature=0)
    assert base.choices[0].message.content != alpha.choices[0].message.content
    assert base.model == "base" and alpha.model == "alpha"
    assert base.usage is not None and base.usage.completion_tokens >= 1
    assert base.usage.total_tokens == base.usage.prompt_tokens + base.usage.completion_tokens


def test_async_client_and_streaming_give_the_same_greedy_answers(gateway: Gateway) -> None:
    expected = {
        m: gateway.client()
        .chat.completions.create(model=m, messages=ASK, max_tokens=8, temperature=0)
        .choices[0]
        .message.content
        for m in ("base", "alpha")
    }

    async def scenario() -> tuple[list[str | None], str, object]:
        client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0)
        answers = await asyncio.gather(
            *(
                client.chat.completions.create(model=m, messages=ASK, max_tokens=8, temperature=0)
                for m in ("base", "alpha", "base", "alpha")
            )
        )
        stream = await client.chat.completions.create(
            model="alpha",
            messages=ASK,
            max_tokens=8,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
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
        model="base", messages=ASK, max_tokens=8, temperature=0, stream=True
    )
    assert (
        "".join(c.choices[0].delta.content or "" for c in sync_stream if c.choices)
        == expected["base"]
    )


def test_logprobs_in_openai_shape_streamed_and_not(gateway: Gateway) -> None:
    """`logprobs` / `top_logprobs` through the official client: one entry per generated token
    whose bytes spell the answer, sorted alternatives, the chosen token the likeliest under
    greedy decoding, and the same tokens and values streamed."""
    client = gateway.client()
    asked = {
        "model": "alpha",
        "messages": ASK,
        "max_tokens": 8,
        "temperature": 0,
        "logprobs": True,
        "top_logprobs": 5,
    }
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
    streamed = [
        t
        for c in stream
        if c.choices and c.choices[0].logprobs
        for t in c.choices[0].logprobs.content or []
    ]
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
    malformed = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers=AUTH,
        json={"model": "base", "messages": "not a list"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["type"] == "invalid_request_error"
    huge = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers=AUTH,
        json={"model": "base", "messages": [{"role": "user", "content": "x" * 70_000}]},
    )
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
                        model=model, messages=ASK, max_tokens=12, stream=True
                    )
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
    hostile.bad_config(
        store,
        gateway.publish(case("lm-head", 422, "target_modules_not_allowed"), lora_dirs["beta"]),
        target_modules=["q_proj", "lm_head"],
    )
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


# --- every parameter of OpenAI's chat completions: honoured, or refused by name -------------

SHORT = {"model": "alpha", "messages": ASK, "max_tokens": 8}


def greedy(client: openai.OpenAI, **params: object):  # type: ignore[no-untyped-def]
    return client.chat.completions.create(**{**SHORT, "temperature": 0, **params})  # type: ignore[call-overload]


def tokens_of(answer) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.token for t in answer.choices[0].logprobs.content]


def check_n(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(**SHORT, n=3, seed=11)  # type: ignore[call-overload]
    assert [c.index for c in answer.choices] == [0, 1, 2]
    alone = client.chat.completions.create(**SHORT, n=1, seed=11)  # type: ignore[call-overload]
    assert answer.choices[0].message.content == alone.choices[0].message.content
    assert len({c.message.content for c in answer.choices}) > 1  # seeds 11, 12, 13
    assert answer.usage.completion_tokens == sum(  # type: ignore[union-attr]
        len(tokens_of(client.chat.completions.create(**SHORT, seed=11 + i, logprobs=True)))  # type: ignore[call-overload]
        + (c.finish_reason == "stop")
        for i, c in enumerate(answer.choices)
    )
    streamed = client.chat.completions.create(**SHORT, n=2, seed=11, stream=True)  # type: ignore[call-overload]
    texts = {0: "", 1: ""}
    for chunk in streamed:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts[0] == alone.choices[0].message.content and texts[1]


def check_penalty(name: str):  # type: ignore[no-untyped-def]
    def check(client: openai.OpenAI) -> None:
        plain = greedy(client, max_tokens=16, logprobs=True)
        penalised = greedy(client, max_tokens=16, logprobs=True, **{name: 2.0})
        assert tokens_of(plain) != tokens_of(penalised)
        # Repeats cost more: the penalised answer repeats its tokens no more than the plain one.
        repeats = [len(t) - len(set(t)) for t in (tokens_of(plain), tokens_of(penalised))]
        assert repeats[1] <= repeats[0]

    return check


def check_logit_bias(client: openai.OpenAI, base_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    ids = tokenizer.encode("application deadline", add_special_tokens=False)
    token_id = max(ids, key=lambda i: len(tokenizer.decode([i])))
    piece = tokenizer.decode([token_id])
    assert len(piece) > 2 and greedy(client).choices[0].message.content != piece * 8
    biased = greedy(client, logit_bias={str(token_id): 100})
    assert biased.choices[0].message.content == piece * 8  # every token is the favoured one
    refused = httpx.post(
        f"{client.base_url}chat/completions",
        headers=AUTH,
        json={**SHORT, "logit_bias": {str(len(tokenizer) + 10_000): 5}},
    )
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "logit_bias"


def check_stop(client: openai.OpenAI) -> None:
    text = greedy(client).choices[0].message.content or ""
    cut = greedy(client, stop=[text[3:6]])
    assert cut.choices[0].message.content == text[: text.index(text[3:6])]


def check_seed(client: openai.OpenAI) -> None:
    first, second = (
        client.chat.completions.create(**SHORT, seed=5).choices[0].message.content  # type: ignore[call-overload]
        for _ in range(2)
    )
    assert first == second


def check_top_p(client: openai.OpenAI) -> None:
    # Sampling from the smallest nucleus, the top token alone, is greedy decoding.
    narrow = client.chat.completions.create(**SHORT, temperature=1.0, top_p=1e-9, seed=3)  # type: ignore[call-overload]
    assert narrow.choices[0].message.content == greedy(client).choices[0].message.content


def check_stream(client: openai.OpenAI, **options: object) -> None:
    chunks = list(client.chat.completions.create(**SHORT, temperature=0, stream=True, **options))  # type: ignore[call-overload]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        greedy(client).choices[0].message.content
    )
    if options:
        assert chunks[-1].usage is not None and chunks[-1].choices == []


def check_limit(name: str):  # type: ignore[no-untyped-def]
    def check(client: openai.OpenAI) -> None:
        answer = client.chat.completions.create(model="alpha", messages=ASK, **{name: 3})  # type: ignore[call-overload]
        assert answer.usage.completion_tokens <= 3  # type: ignore[union-attr]

    return check


HONOURED: dict[str, object] = {
    "messages": lambda c: greedy(c),
    "model": lambda c: greedy(c).model == "alpha" or pytest.fail("model"),
    "frequency_penalty": check_penalty("frequency_penalty"),
    "presence_penalty": check_penalty("presence_penalty"),
    "logit_bias": "needs the base folder",
    "logprobs": lambda c: greedy(c, logprobs=True).choices[0].logprobs.content or pytest.fail(),
    "top_logprobs": lambda c: (
        len(greedy(c, logprobs=True, top_logprobs=2).choices[0].logprobs.content[0].top_logprobs)
        == 2
        or pytest.fail()
    ),
    "max_tokens": check_limit("max_tokens"),
    "max_completion_tokens": check_limit("max_completion_tokens"),
    "n": check_n,
    "seed": check_seed,
    "stop": check_stop,
    "stream": check_stream,
    "stream_options": lambda c: check_stream(c, stream_options={"include_usage": True}),
    "temperature": lambda c: (
        greedy(c).choices[0].message.content == greedy(c).choices[0].message.content
        or pytest.fail()
    ),
    "top_p": check_top_p,
    # Plain text is what every engine gives; JSON output is refused below on this engine.
    "response_format": lambda c: greedy(c, response_format={"type": "text"}),
    # "none": no tool is called, which is what happens.
    "tool_choice": lambda c: greedy(c, tool_choice="none"),
    "modalities": lambda c: greedy(c, modalities=["text"]),
    "store": lambda c: greedy(c, store=False),
    "service_tier": lambda c: greedy(c, service_tier="auto"),
}
REFUSED = {
    "audio": {"voice": "alloy", "format": "wav"},
    "function_call": "auto",
    "functions": [{"name": "f", "parameters": {"type": "object"}}],
    "metadata": {"run": "1"},
    "modalities": ["text", "audio"],
    "moderation": {"mode": "block"},
    "parallel_tool_calls": True,
    "prediction": {"type": "content", "content": "x"},
    "prompt_cache_key": "k",
    "prompt_cache_options": {"ttl": 60},
    "prompt_cache_retention": "24h",
    "reasoning_effort": "low",
    "response_format": {"type": "json_object"},  # the HF engine has no constrained decoding
    "safety_identifier": "user-1",
    "service_tier": "flex",
    "store": True,
    "tool_choice": "auto",
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "user": "user-1",
    "verbosity": "low",
    "web_search_options": {"search_context_size": "low"},
}
NOT_PARAMETERS = {"self", "extra_headers", "extra_query", "extra_body", "timeout"}


def openai_parameters() -> set[str]:
    import inspect

    from openai.resources.chat.completions import Completions

    return set(inspect.signature(Completions.create).parameters) - NOT_PARAMETERS


def test_every_openai_parameter_is_classified() -> None:
    """A parameter a new `openai` release adds fails here until it is honoured or refused."""
    assert openai_parameters() == set(HONOURED) | set(REFUSED)


@pytest.mark.parametrize("name", sorted(HONOURED))
def test_honoured_parameters_take_effect(gateway: Gateway, name: str) -> None:
    if name == "logit_bias":  # token ids are the base model's
        check_logit_bias(gateway.client(), gateway.base_dir)
        return
    HONOURED[name](gateway.client())  # type: ignore[operator]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_other_parameters_are_refused_by_name(gateway: Gateway, name: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        gateway.client().chat.completions.create(**SHORT, **{name: REFUSED[name]})  # type: ignore[call-overload]
    assert refused.value.body["param"] == name  # type: ignore[index]
    assert name in refused.value.body["message"]  # type: ignore[index]


def test_unknown_fields_are_refused_by_name(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        gateway.client().chat.completions.create(**SHORT, extra_body={"guided_regex": "a+"})  # type: ignore[call-overload]
    assert refused.value.body["param"] == "guided_regex"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as in_message:
        gateway.client().chat.completions.create(
            model="alpha", max_tokens=4, messages=[{"role": "user", "content": "hi", "name": "ana"}]
        )
    assert "name" in in_message.value.body["message"]  # type: ignore[index]
    echoed = greedy(gateway.client()).choices[0].message.model_dump()  # refusal=None, ...
    follow_up = [*ASK, echoed, {"role": "user", "content": "And then?"}]
    assert (
        gateway.client()
        .chat.completions.create(model="alpha", messages=follow_up, max_tokens=2)
        .choices
    )
