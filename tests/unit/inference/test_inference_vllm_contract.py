"""The vLLM driver against a recorded contract: the exact requests it sends, and how it reads
vLLM's answers. vLLM itself cannot run here (no GPU); docs/inference.md says what this covers."""

from __future__ import annotations

import asyncio
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
        url="http://vllm:8100", served_model=SERVED, base_alias="base", base_model=SERVED,
        base_fingerprint=FINGERPRINT, chat_template_sha256=template_fingerprint(TEMPLATE),
        linear_shapes=None, adapter_dir=adapter_dir, remote_adapter_dir="/adapters",
        transport=mock.transport(),
    )  # fmt: skip


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
    assert sent[0] == ("POST", "/v1/load_lora_adapter",
                       {"lora_name": "advisor", "lora_path": "/adapters/advisor/v0002"})  # fmt: skip
    assert sent[1] == ("POST", "/v1/chat/completions", {
        "model": "advisor", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.0,
        "top_p": 1.0, "stream": False, "max_tokens": 20, "seed": 7, "stop": ["\n"]})  # fmt: skip
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
        ("answer ", -0.25), ("alt1", -1.25), ("alt2", -2.25)]  # fmt: skip
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
        e = VllmEngine(url="http://vllm:8100", served_model=SERVED, base_alias="base",
                       base_model=SERVED, base_fingerprint=FINGERPRINT, chat_template_sha256=None,
                       linear_shapes=None, adapter_dir=tmp_path,
                       transport=httpx.MockTransport(refuse))  # fmt: skip
        await e.start()
        assert not (await e.health()).ready
        with pytest.raises(InferenceError) as err:
            await e.generate(ask("base"))
        assert err.value.status == 503

    asyncio.run(scenario())


def test_gateway_loads_a_bundle_into_vllm_through_the_admin_api(tmp_path: Path) -> None:
    mock = MockVllm()
    store = LocalStore(tmp_path / "store")
    write_bundle(store, "advisor", make_bundle_dir(tmp_path / "b"), base_model_id=SERVED,
                 base_fingerprint=FINGERPRINT, chat_template_sha256=template_fingerprint(TEMPLATE))  # fmt: skip
    settings = Settings(engine="vllm", api_keys=["k-123"], adapter_dir=tmp_path / "shared",
                        vllm_adapter_dir="/adapters", base_model=SERVED)  # fmt: skip
    app = create_app(settings, engine=engine(mock, tmp_path / "shared"), store=store)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            loaded = await client.post("/v1/adapters", json={"adapter": "advisor"}, headers=KEY)
            assert loaded.status_code == 201, loaded.text
            assert loaded.json()["canary"] == {"prompts": 3, "differing": 3, "effective": True}
            chat = await client.post("/v1/chat/completions", headers=KEY, json={
                "model": "advisor", "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
            assert chat.json()["choices"][0]["message"]["content"] == "answer from advisor"
            assert chat.json()["model"] == "advisor"

    asyncio.run(scenario())
    assert ("POST", "/v1/load_lora_adapter",
            {"lora_name": "advisor", "lora_path": "/adapters/advisor/v0001"}) in mock.requests  # fmt: skip
    assert (tmp_path / "shared" / "advisor" / "v0001" / "adapter_model.safetensors").is_file()
