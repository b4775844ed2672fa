"""The vLLM driver against a recorded contract: the exact requests it sends, and how it reads
vLLM's answers. vLLM itself cannot run here (no GPU); docs/inference.md says what this covers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from mock_vllm import SERVED, MockVllm

from advisor_inference.core.config import Settings
from advisor_inference.engines.base import GenerationRequest, SamplingParams
from advisor_inference.engines.vllm import VllmEngine
from advisor_inference.errors import AdapterRefusedError, InferenceError, ModelNotFoundError
from advisor_inference.main import create_app
from advisor_shared.bundle import write_bundle
from advisor_shared.chat_template import template_fingerprint
from advisor_shared.store import LocalStore
from tests.fixtures.bundles import TEMPLATE, make_bundle_dir

pytestmark = pytest.mark.unit
FINGERPRINT = "hub:mistralai/Mistral-7B-Instruct-v0.3"
KEY = {"Authorization": "Bearer k-123"}


def engine(mock: MockVllm, adapter_dir: Path) -> VllmEngine:
    return VllmEngine(
        url="http://vllm:8100",
        served_model=SERVED,
        base_alias="base",
        base_model=SERVED,
        base_fingerprint=FINGERPRINT,
        chat_template_sha256=template_fingerprint(TEMPLATE),
        linear_shapes=None,
        adapter_dir=adapter_dir,
        remote_adapter_dir="/adapters",
        transport=mock.transport(),
    )


def ask(model: str, **params: object) -> GenerationRequest:
    return GenerationRequest(model, [{"role": "user", "content": "hi"}], SamplingParams(**params))  # type: ignore[arg-type]


def test_requests_sent_to_vllm_match_its_api(tmp_path: Path) -> None:
    mock = MockVllm()

    async def scenario() -> None:
        e = engine(mock, tmp_path)
        await e.start()
        assert e.info.max_model_len == 4096
        await e.load_adapter("advisor", tmp_path / "advisor" / "v0002")
        result = await e.generate(
            ask("advisor", max_tokens=20, temperature=0.0, seed=7, stop=("\n",))
        )
        assert result.text == "answer from advisor" and result.completion_tokens == 3
        stream = await e.stream(ask("base", max_tokens=5))
        deltas = [d async for d in stream]
        assert "".join(d.text for d in deltas) == f"answer from {SERVED}"
        assert deltas[-1].finish_reason == "length" and deltas[-1].prompt_tokens == 7
        await e.unload_adapter("advisor")
        assert e.models() == ["base"]
        await e.close()

    asyncio.run(scenario())
    sent = [r for r in mock.requests if r[1] != "/v1/models"]
    assert sent[0] == (
        "POST",
        "/v1/load_lora_adapter",
        {"lora_name": "advisor", "lora_path": "/adapters/advisor/v0002"},
    )
    assert sent[1] == (
        "POST",
        "/v1/chat/completions",
        {
            "model": "advisor",
            "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.0,
            "top_p": 1.0,
            "stream": False,
            "max_tokens": 20,
            "seed": 7,
            "stop": ["\n"],
        },
    )
    assert sent[2][2]["model"] == SERVED and sent[2][2]["stream"] is True
    assert sent[2][2]["stream_options"] == {"include_usage": True}
    assert sent[3] == ("POST", "/v1/unload_lora_adapter", {"lora_name": "advisor"})


def test_logprobs_are_asked_of_vllm_and_read_back(tmp_path: Path) -> None:
    mock = MockVllm()

    async def scenario() -> tuple:
        e = engine(mock, tmp_path)
        result = await e.generate(ask("base", max_tokens=1, logprobs=True, top_logprobs=3))
        stream = await e.stream(ask("base", max_tokens=5, logprobs=True, top_logprobs=0))
        deltas = [d async for d in stream]
        with pytest.raises(InferenceError, match="max_logprobs"):
            await e.generate(ask("base", logprobs=True, top_logprobs=21))
        await e.close()
        return result, deltas

    result, deltas = asyncio.run(scenario())
    chat = [body for _, path, body in mock.requests if path == "/v1/chat/completions"]
    assert chat[0]["logprobs"] is True and chat[0]["top_logprobs"] == 3
    assert chat[1]["logprobs"] is True and chat[1]["top_logprobs"] == 0
    assert [t.token for t in result.logprobs] == ["answer ", "from ", SERVED]
    first = result.logprobs[0]
    assert first.logprob == -0.25 and first.bytes == list(b"answer ")
    assert [(t.token, t.logprob) for t in first.top_logprobs] == [
        ("answer ", -0.25),
        ("alt1", -1.25),
        ("alt2", -2.25),
    ]
    streamed = [t for d in deltas for t in d.logprobs or ()]
    assert [t.token for t in streamed] == ["answer ", "from ", SERVED]
    assert all(t.top_logprobs == () for t in streamed)


@pytest.mark.parametrize("old_shape", [False, True])
def test_vllm_errors_in_either_shape_become_ours(tmp_path: Path, old_shape: bool) -> None:
    mock = MockVllm(old_error_shape=old_shape)

    async def scenario() -> None:
        e = engine(mock, tmp_path)
        with pytest.raises(AdapterRefusedError, match="No adapter found"):
            await e.load_adapter("ghost", tmp_path / "missing" / "v0001")
        await e.load_adapter("dup", tmp_path / "dup" / "v0001")
        with pytest.raises(AdapterRefusedError, match="already been loaded"):
            await e.load_adapter("dup", tmp_path / "dup" / "v0001")
        with pytest.raises(ModelNotFoundError):
            await e.generate(ask("nobody"))
        with pytest.raises(InferenceError, match="maximum context length") as err:
            await e.generate(ask("base", max_tokens=200))
        assert err.value.status == 400

    asyncio.run(scenario())


def test_unreachable_vllm_is_503_and_not_ready(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    async def scenario() -> None:
        e = VllmEngine(
            url="http://vllm:8100",
            served_model=SERVED,
            base_alias="base",
            base_model=SERVED,
            base_fingerprint=FINGERPRINT,
            chat_template_sha256=None,
            linear_shapes=None,
            adapter_dir=tmp_path,
            transport=httpx.MockTransport(refuse),
        )
        await e.start()
        assert not (await e.health()).ready
        with pytest.raises(InferenceError) as err:
            await e.generate(ask("base"))
        assert err.value.status == 503

    asyncio.run(scenario())


def test_gateway_loads_a_bundle_into_vllm_through_the_admin_api(tmp_path: Path) -> None:
    mock = MockVllm()
    store = LocalStore(tmp_path / "store")
    write_bundle(
        store,
        "advisor",
        make_bundle_dir(tmp_path / "b"),
        base_model_id=SERVED,
        base_fingerprint=FINGERPRINT,
        chat_template_sha256=template_fingerprint(TEMPLATE),
    )
    settings = Settings(
        engine="vllm",
        api_keys=["k-123"],
        adapter_dir=tmp_path / "shared",
        vllm_adapter_dir="/adapters",
        base_model=SERVED,
    )
    app = create_app(settings, engine=engine(mock, tmp_path / "shared"), store=store)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            loaded = await client.post("/v1/adapters", json={"adapter": "advisor"}, headers=KEY)
            assert loaded.status_code == 201, loaded.text
            assert loaded.json()["canary"] == {"prompts": 3, "differing": 3, "effective": True}
            chat = await client.post(
                "/v1/chat/completions",
                headers=KEY,
                json={"model": "advisor", "messages": [{"role": "user", "content": "hi"}]},
            )
            # The bare name answers from its newest loaded version, registered as name@version.
            assert chat.json()["choices"][0]["message"]["content"] == "answer from advisor@v0001"
            assert chat.json()["model"] == "advisor"
            assert chat.headers["X-Advisor-Adapter"] == "advisor@v0001"

    asyncio.run(scenario())
    assert (
        "POST",
        "/v1/load_lora_adapter",
        {"lora_name": "advisor@v0001", "lora_path": "/adapters/advisor/v0001"},
    ) in mock.requests
    assert (tmp_path / "shared" / "advisor" / "v0001" / "adapter_model.safetensors").is_file()


def test_openai_parameters_are_passed_through_to_vllm_as_its_request_body(tmp_path: Path) -> None:
    """n, the penalties, logit_bias and response_format reach vLLM under OpenAI's names (vLLM
    implements each), and its n choices come back in order with their own text."""
    mock = MockVllm()
    schema = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}},
    }
    asked = ask(
        "base",
        max_tokens=20,
        seed=7,
        stop=("\n",),
        n=3,
        presence_penalty=0.5,
        frequency_penalty=-0.25,
        logit_bias=((42, -100.0), (7, 3.5)),
        response_format=schema,
    )

    async def scenario() -> tuple[list, list]:
        e = engine(mock, tmp_path)
        results = await e.generate_choices(asked)
        stream = await e.stream(ask("base", max_tokens=5, n=2))
        deltas = [d async for d in stream]
        await e.close()
        return results, deltas

    results, deltas = asyncio.run(scenario())
    chat = [body for _, path, body in mock.requests if path == "/v1/chat/completions"]
    assert chat[0] == {
        "model": SERVED,
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 1.0,
        "top_p": 1.0,
        "stream": False,
        "max_tokens": 20,
        "seed": 7,
        "stop": ["\n"],
        "n": 3,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.25,
        "logit_bias": {"42": -100.0, "7": 3.5},
        "response_format": schema,
    }
    assert [r.text for r in results] == [f"answer {i} {SERVED}" for i in range(3)]
    assert sum(r.completion_tokens for r in results) == 9  # vLLM's total over the choices
    assert chat[1]["n"] == 2 and chat[1]["stream"] is True
    text = {i: "".join(d.text for d in deltas if d.index == i) for i in (0, 1)}
    assert text == {0: f"answer 0 {SERVED}", 1: f"answer 1 {SERVED}"}
    finals = [d for d in deltas if d.finish_reason]
    assert [(d.index, d.finish_reason) for d in finals] == [(0, "length"), (1, "length")]
    assert sum(d.completion_tokens or 0 for d in finals) == 6


def test_the_gateway_gives_n_choices_and_json_formats_in_front_of_vllm(tmp_path: Path) -> None:
    mock = MockVllm()
    settings = Settings(
        engine="vllm", api_keys=["k-123"], adapter_dir=tmp_path / "shared", base_model=SERVED
    )
    app = create_app(
        settings, engine=engine(mock, tmp_path / "shared"), store=LocalStore(tmp_path / "store")
    )
    hello = {"model": "base", "messages": [{"role": "user", "content": "hi"}]}

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            plain = await client.post(
                "/v1/chat/completions",
                headers=KEY,
                json={**hello, "n": 2, "response_format": {"type": "json_object"}},
            )
            streamed = await client.post(
                "/v1/chat/completions",
                headers=KEY,
                json={**hello, "n": 2, "stream": True, "stream_options": {"include_usage": True}},
            )
            return plain, streamed

    plain, streamed = asyncio.run(scenario())
    assert plain.status_code == 200, plain.text
    body = plain.json()
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 6, "total_tokens": 13}
    sent = [b for _, path, b in mock.requests if path == "/v1/chat/completions"]
    assert sent[0]["n"] == 2 and sent[0]["response_format"] == {"type": "json_object"}
    events = [
        json.loads(line[6:]) for line in streamed.text.split("\n\n") if line.startswith("data: {")
    ]
    finishes = [
        (c["index"], c["finish_reason"]) for e in events for c in e["choices"] if c["finish_reason"]
    ]
    assert finishes == [(0, "length"), (1, "length")]
    usages = [e["usage"] for e in events if e.get("usage")]
    assert usages == [{"prompt_tokens": 7, "completion_tokens": 6, "total_tokens": 13}]


def test_the_gateway_finds_vllms_chat_template_in_its_downloaded_files(tmp_path: Path) -> None:
    """No fingerprint set by hand: the template is read from the snapshot vLLM downloaded into
    its cache, mounted read-only (asked again at start if vLLM was still downloading)."""
    from advisor_inference.engines.factory import build_engine

    hub = tmp_path / "engine-hf" / "hub"
    settings = Settings(
        engine="vllm",
        api_keys=["k-123"],
        base_model=SERVED,
        vllm_hf_cache=hub,
        base_fingerprint=FINGERPRINT,
        vllm_url="http://127.0.0.1:9",
    )
    built = build_engine(settings)
    assert built.info.chat_template_sha256 is None  # nothing downloaded yet
    repo = hub / "models--mistralai--Mistral-7B-Instruct-v0.3"
    snapshot = repo / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")
    (snapshot / "tokenizer_config.json").write_text(json.dumps({"chat_template": TEMPLATE}))
    asyncio.run(built.start())
    assert built.info.chat_template_sha256 == template_fingerprint(TEMPLATE)
