"""vLLM forgets the adapters loaded at run time when it restarts: the driver registers them
again, on its periodic check and on the first request that finds one missing. Against the
recorded contract served over real HTTP, stopped and started again on the same port."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from mock_vllm import SERVED
from vllm_server import FakeVllmServer

from advisor_inference.core.config import Settings
from advisor_inference.engines.base import GenerationRequest, SamplingParams
from advisor_inference.engines.vllm import VllmEngine
from advisor_inference.main import _keep_engine_in_sync
from tests.conftest import free_port

pytestmark = pytest.mark.unit
LOAD = "/v1/load_lora_adapter"


@pytest.fixture
def vllm() -> Iterator[FakeVllmServer]:
    server = FakeVllmServer(free_port())
    server.start()
    yield server
    server.stop()


def driver(server: FakeVllmServer, adapter_dir: Path) -> VllmEngine:
    return VllmEngine(
        url=server.url,
        served_model=SERVED,
        base_alias="base",
        base_model=SERVED,
        base_fingerprint="hub:x",
        chat_template_sha256=None,
        linear_shapes=None,
        adapter_dir=adapter_dir,
        remote_adapter_dir="/adapters",
        timeout_s=5,
    )


def loads(server: FakeVllmServer) -> list[dict]:
    return [body for _, path, body in server.mock.requests if path == LOAD]


def test_the_periodic_check_registers_forgotten_adapters_again(
    vllm: FakeVllmServer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        engine = driver(vllm, tmp_path)
        await engine.load_adapter("advisor@v0002", tmp_path / "advisor" / "v0002")
        await engine.load_adapter("advisor@v0003", tmp_path / "advisor" / "v0003")
        assert await engine.reconcile() == []  # vLLM holds both: nothing to do
        vllm.stop()
        assert await engine.reconcile() == []  # vLLM down: quiet, nothing lost
        vllm.restart()
        assert vllm.mock.loras == {}
        settings = Settings(api_keys=["k"], vllm_sync_interval_s=0.05)
        sync = asyncio.create_task(_keep_engine_in_sync(engine, settings))
        for _ in range(100):
            if len(vllm.mock.loras) == 2:
                break
            await asyncio.sleep(0.05)
        sync.cancel()
        await engine.close()

    asyncio.run(scenario())
    assert loads(vllm) == [
        {"lora_name": "advisor@v0002", "lora_path": "/adapters/advisor/v0002"},
        {"lora_name": "advisor@v0003", "lora_path": "/adapters/advisor/v0003"},
    ]


def test_a_request_that_finds_its_adapter_forgotten_registers_it_and_is_answered(
    vllm: FakeVllmServer, tmp_path: Path
) -> None:
    ask = GenerationRequest("advisor@v0002", [{"role": "user", "content": "hi"}], SamplingParams())

    async def scenario() -> tuple[str, str]:
        engine = driver(vllm, tmp_path)
        await engine.load_adapter("advisor@v0002", tmp_path / "advisor" / "v0002")
        vllm.restart()
        answer = await engine.generate(ask)
        vllm.restart()
        stream = await engine.stream(ask)
        streamed = "".join([d.text async for d in stream])
        await engine.close()
        return answer.text, streamed

    answer, streamed = asyncio.run(scenario())
    assert answer == streamed == "answer from advisor@v0002"
    assert loads(vllm) == [{"lora_name": "advisor@v0002", "lora_path": "/adapters/advisor/v0002"}]
