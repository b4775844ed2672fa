"""A restarted gateway serves the adapters it served before: `advisor serve` as a real process,
an adapter imported from a plain PEFT folder and loaded through the API, the process stopped
(SIGTERM) and started again on the same store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from advisor_shared.adapters_cli import app as adapters_app
from tests.conftest import free_port
from tests.fixtures.cli import invoke

pytestmark = pytest.mark.integration
KEY = "restart-key-51c0"
AUTH = {"Authorization": f"Bearer {KEY}"}
ASK = [{"role": "user", "content": "What is the application deadline?"}]


def serve(root: Path, base_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "ADVISOR_STORE_URL": f"file://{root / 'store'}",
        "ADVISOR_CACHE_DIR": str(root / "cache"),
        "ADVISOR_DEFAULT_MAX_TOKENS": "8",
    }
    advisor = Path(sys.executable).with_name("advisor")
    return subprocess.Popen(
        [
            str(advisor),
            "serve",
            "--port",
            str(port),
            "--base",
            str(base_dir),
            "--api-key",
            KEY,
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return httpx.get(f"{url}/v1/status", headers=AUTH, timeout=5).json()
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise TimeoutError(log.read_text()[-3000:])


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def answer(url: str, model: str) -> str | None:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
    reply = client.chat.completions.create(model=model, messages=ASK, max_tokens=8, temperature=0)
    return reply.choices[0].message.content


def test_a_restarted_gateway_loads_its_adapters_again(
    tiny_model_dir: Path,
    lora_dirs: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A plain PEFT output folder (no template, no ledger), imported with the CLI.
    peft_folder = tmp_path / "peft-output"
    peft_folder.mkdir()
    for filename in ("adapter_config.json", "adapter_model.safetensors"):
        (peft_folder / filename).write_bytes((lora_dirs["alpha"] / filename).read_bytes())
    monkeypatch.setenv("ADVISOR_STORE_URL", f"file://{tmp_path / 'store'}")
    imported = invoke(
        "adapters",
        adapters_app,
        "import",
        str(peft_folder),
        "--name",
        "imported",
        "--base",
        str(tiny_model_dir),
    )
    assert imported.exit_code == 0, imported.output

    port, log = free_port(), tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}"
    first = serve(tmp_path, tiny_model_dir, port, log)
    try:
        wait_ready(url, first, log)
        loaded = httpx.post(
            f"{url}/v1/adapters", headers=AUTH, json={"adapter": "imported"}, timeout=60
        )
        assert loaded.status_code == 201, loaded.text
        assert loaded.json()["canary"]["effective"] is True
        before = answer(url, "imported@v0001")
        assert before != answer(url, "base")
    finally:
        stop(first)

    second = serve(tmp_path, tiny_model_dir, port, log)
    try:
        status = wait_ready(url, second, log)
        assert status["startup_errors"] == []
        listing = httpx.get(f"{url}/v1/adapters", headers=AUTH).json()
        assert [(a["name"], a["version"]) for a in listing["data"]] == [("imported", "v0001")]
        assert [b["loaded"] for b in listing["stored"]] == [True]
        assert answer(url, "imported@v0001") == answer(url, "imported") == before
    finally:
        stop(second)
