"""End to end with the real inference gateway (`advisor serve`, the packaged SmolLM2-135M and a
LoRA adapter bundle), real Redis, real Celery worker processes and the evaluator API: the job
completes with a full report — BERTScore on the packaged MiniLM, both-order judging by the
gateway's own base model (a weak judge, whose bias the report must show) — although its first
worker is killed with SIGKILL in the middle, and the gateway's own request counters show every
item answered once (plus at most the requests in flight at the kill)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from evaluator_processes import REPO, wait_http

from advisor_shared.store import LocalStore
from tests.conftest import free_port
from tests.unit.inference.lora_factory import make_lora_dir, publish

# On a CPU shared with other work the packaged model answers slowly (the rubric prompt alone is
# ~700 tokens), so this runs outside `make test`; `make test-all` includes it.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]
GATEWAY_KEY = "gateway-test-key"
ADAPTER = "advisor-lora"


@pytest.fixture
def gateway(embedded_model_dir: Path, tmp_path: Path) -> Iterator[str]:
    """`advisor serve` with the packaged model as `base` and one adapter, on the test's store."""
    store = LocalStore(tmp_path / "store")
    adapter_dir = make_lora_dir(embedded_model_dir, tmp_path / "lora", seed=3)
    publish(store, ADAPTER, adapter_dir, embedded_model_dir, tmp_path / "cache")
    port = free_port()
    env = {
        "ADVISOR_STORE_URL": f"file://{tmp_path / 'store'}",
        "ADVISOR_CACHE_DIR": str(REPO / ".cache" / "advisor"),
        "PATH": "/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    log = tmp_path / "gateway.log"
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("advisor")),
            "serve",
            "--port",
            str(port),
            "--base",
            "smollm2-135m-instruct",
            "--adapter",
            ADAPTER,
            "--api-key",
            GATEWAY_KEY,
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=REPO,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,  # noqa: SIM115
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", proc, log, timeout=240)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still finishing a generation on a busy CPU
            proc.kill()
            proc.wait(timeout=30)


def test_an_evaluation_of_base_and_adapter_through_the_gateway(gateway: str, processes) -> None:
    group = processes(gateway, GATEWAY_KEY)
    group.start_api(free_port())
    first = group.start_worker("w1", concurrency=2)
    test_set = REPO / "data" / "sample" / "test.jsonl"
    store = LocalStore(group.store_dir)
    store.put_bytes("datasets/sample-test.jsonl", test_set.read_bytes())
    store.put_bytes("datasets/sample-train.jsonl", (test_set.parent / "train.jsonl").read_bytes())
    body = {
        "dataset": {"key": "datasets/sample-test.jsonl"},
        "training_dataset": "datasets/sample-train.jsonl",
        "sample": {"size": 2, "seed": 42},
        "candidates": ["base", ADAPTER],
        "metrics": ["bertscore", "rouge_l", "judge", "factuality"],
        "judge": {"model": "base", "max_tokens": 24},
        "generation": {"max_tokens": 12},
    }
    with group.client() as client:
        unknown = client.post("/v1/evaluations", json={**body, "candidates": ["base", "nope"]})
        assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_model"
        submitted = client.post("/v1/evaluations", json=body)
        assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    generations = group.store_dir / "evaluations" / job_id / "generations"
    deadline = time.monotonic() + 900
    while len(list(generations.rglob("*.json"))) < 2:  # two of four answers stored
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    group.start_worker("w2", concurrency=4)  # 4 requests at once: the gateway batches them
    job = group.wait_finished(job_id, timeout=1500)
    assert job["status"] == "succeeded", job
    with group.client() as client:
        report = client.get(job["links"]["report"]).json()
        markdown = client.get(job["links"]["report_markdown"]).text
        plots = [client.get(link) for link in job["links"]["plots"]]

    base, lora = report["candidates"]
    assert (base["generations"], lora["generations"]) == (2, 2)
    assert lora["adapter"]["ref"] == f"{ADAPTER}@v0001" and base["adapter"] is None
    assert lora["chat_template"]["mismatch"] is not True  # the gateway refuses mismatching adapters
    for candidate in (base, lora):
        assert 0.0 < candidate["bertscore_f1"]["value"] <= 1.0  # MiniLM, no rescale
    comparison = report["comparisons"][0]
    judge = comparison["judge"]
    assert judge["pairs"] == 2
    assert judge["win"] + judge["tie"] + judge["loss"] + judge["unparseable"] == 2
    assert report["judge_bias"]["judgements"] == 4
    # The three-axis verdict names both candidates whichever axis decides (or none does).
    assert comparison["challenger"] in comparison["verdict"]
    assert comparison["baseline"] in comparison["verdict"]
    assert any("is candidate" in w and "itself or its base model" in w for w in report["warnings"])
    assert report["skipped"]["factuality"].startswith("no auditor is configured")
    assert report["hygiene"]["training_overlap"]["measured"] is True
    assert "## Judge bias (measured)" in markdown
    assert plots and all(p.status_code == 200 and p.content[:4] == b"\x89PNG" for p in plots)
    assert len(list(generations.rglob("*.json"))) == 4
    answered = _completions(gateway)
    # base answers 2 prompts and judges 2 pairs x 2 orders; the adapter answers 2 prompts. The
    # killed worker had at most 2 requests in flight, which are asked again.
    assert 6 <= answered["base"] and 2 <= answered[ADAPTER]
    assert answered["base"] + answered[ADAPTER] <= 8 + 2, answered


def _completions(gateway: str) -> dict[str, float]:
    """Successful chat completions per model, from the gateway's Prometheus counters."""
    text = httpx.get(
        gateway.removesuffix("/v1") + "/metrics", headers={"Authorization": f"Bearer {GATEWAY_KEY}"}
    ).text
    found: dict[str, float] = {}
    for model, value in re.findall(
        r'^advisor_inference_requests_total\{model="([^"]+)",status="200"\} (\S+)$', text, re.M
    ):
        found[model] = float(value)
    return found
