"""The stack as containers on this host, as a user runs it (docs/deployment.md, "First run
without a GPU"): a Docker engine, the local base images, the CPU images, compose.yaml brought up
with compose.local.yaml, then only HTTP to the ports the stack listens on: the first chat
completion with the `openai` client, a training job whose bundle the gateway loads, an
evaluation with its report, an audit, an evaluator worker killed mid-job, the whole stack
restarted, and everything torn down. Figures go to benchmarks/results/compose_local.json.

    make compose-test          # root, docker.io + docker-compose + debootstrap installed
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.compose.stack import (
    AUDITOR,
    EVALUATOR,
    GATEWAY,
    REPO,
    TRAINER,
    Api,
    LocalStack,
    healthy,
    image_sizes,
    read_env_file,
    sample_lines,
    timed,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(7200)]

PROJECT = "advisor-compose-test"
RESULTS = REPO / "benchmarks" / "results" / "compose_local.json"
IMAGES = [
    "advisor-stack/gateway-cpu:0.1.0",
    "advisor-stack/evaluator:0.1.0",
    "advisor-stack/auditor:0.1.0",
    "advisor-stack/trainer:0.1.0",
    "advisor-stack/local-redis:0.1.0",
    "advisor-stack/local-s3:0.1.0",
    "local/python:3.11-bookworm",
    "local/debian:bookworm",
]
# docs/deployment.md's first question, and its evaluation of two inline prompts.
QUESTION = "What documents does a student visa application usually need?"
EVALUATION_ITEMS = [
    {
        "prompt": "Can I work while on a student visa?",
        "reference": "Usually up to 20 hours a week during term; check the conditions on your visa.",
    },
    {
        "prompt": "When should I apply for a scholarship?",
        "reference": "Most scholarships close six to nine months before the programme starts.",
    },
]
# Four distinct prompts (the evaluator drops near-duplicates), for the job whose worker is killed.
KILLED_JOB_ITEMS = [
    *EVALUATION_ITEMS,
    {
        "prompt": "How much money must I show for a student visa?",
        "reference": "Enough for tuition and a year of living costs, shown in bank statements.",
    },
    {
        "prompt": "Do I need health insurance as an international student?",
        "reference": "Yes; most countries require cover for the whole stay before the visa is issued.",
    },
]
ADAPTER = "compose-test"


def _needs_docker() -> None:
    missing = [tool for tool in ("docker", "docker-compose", "dockerd") if not shutil.which(tool)]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not installed (apt-get install docker.io docker-compose)"
        )
    if os.geteuid() != 0:
        pytest.skip("the local stack starts dockerd and debootstrap: run as root")


def test_first_run_without_a_gpu(tmp_path: Path) -> None:
    _needs_docker()
    figures: dict[str, Any] = {}
    stack = LocalStack(env_file=tmp_path / "env", project=PROJECT, log_dir=tmp_path)
    # `make env` with its own path: fresh secrets; compose.yaml asks for a hub token, which
    # nothing started here reads.
    stack.run(
        f"HF_TOKEN=unused PYTHONPATH=shared python3 -m advisor_shared.deploy_env "
        f"--path {stack.env_file}"
    )
    secrets = read_env_file(stack.env_file)
    key, admin = secrets["ADVISOR_API_KEYS"], secrets["ADVISOR_ADMIN_API_KEYS"]

    # 1-3: the engine, the base images (once), the images (cached layers after the first time).
    stack.run("deploy/local/engine.sh", timeout=120)
    with timed(figures, "base_images_s"):
        stack.run("deploy/local/base-image.sh", timeout=1800)
    # Which images an earlier run left: none means the build below starts from nothing.
    figures["images_before_build"] = sorted(image_sizes(IMAGES))
    with timed(figures, "build_s"):
        stack.run(f"ENV_FILE={stack.env_file} deploy/local/build.sh", timeout=5400)
    figures["image_bytes"] = image_sizes(IMAGES)
    stack.compose("down -v --remove-orphans", check=False)  # what a failed earlier run left
    try:
        # 4: compose.yaml itself, with the override for this host.
        started = time.monotonic()
        stack.compose("up -d", timeout=900)
        figures["compose_up_s"] = round(time.monotonic() - started, 1)
        # 5: as a user, through the stack's ports only.
        reply = _first_chat_completion(key)
        figures["cold_start_to_first_answer_s"] = round(time.monotonic() - started, 1)
        assert reply.strip(), "the first answer is empty"
        _streamed_completion(key)

        training, bundle = _train_and_load_an_adapter(stack, admin, figures)
        evaluation = _evaluate(key, admin, figures)
        audit = _audit(key, figures)
        killed = _kill_a_worker_mid_job(stack, key, figures)

        _restart_and_find_everything(
            stack, key, admin, (training, bundle), [evaluation, killed], audit, figures
        )
    except BaseException:
        print(stack.logs())
        raise
    finally:
        # 6: everything down, volumes included.
        stack.compose("--profile train down -v --remove-orphans", check=False, timeout=300)
    assert stack.compose("ps -q", check=False).strip() == ""
    _record(figures, stack)


def _first_chat_completion(key: str) -> str:
    from openai import APIConnectionError, APIStatusError, OpenAI

    client = OpenAI(base_url=f"{GATEWAY}/v1", api_key=key, max_retries=0, timeout=300)

    def ask() -> str | None:
        try:
            reply = client.chat.completions.create(
                model="base", messages=[{"role": "user", "content": QUESTION}], max_tokens=200
            )
        except (APIConnectionError, APIStatusError):
            return None  # not up yet (503 while the engine warms up)
        return reply.choices[0].message.content

    return wait_for("the gateway's first answer", ask, timeout=900, interval=3)


def _streamed_completion(key: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{GATEWAY}/v1", api_key=key, timeout=300)
    chunks = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="base",
            messages=[{"role": "user", "content": "And how long does it take?"}],
            max_tokens=32,
            stream=True,
        )
        if chunk.choices
    ]
    assert len(chunks) > 1 and "".join(chunks).strip()


def _train_and_load_an_adapter(
    stack: LocalStack, admin: str, figures: dict[str, Any]
) -> tuple[str, str]:
    """The trainer worker (profile `train`) trains a LoRA on the embedded base on the CPU; the
    gateway loads the bundle from the store and serves it."""
    stack.compose("--profile train up -d trainer trainer-worker", timeout=600)
    trainer = Api(TRAINER, admin)
    wait_for("the trainer API", lambda: healthy(TRAINER), timeout=300)
    body = {
        "config": {
            "run_name": ADAPTER,
            "base_model": "smollm2-135m-instruct",
            "dataset": "sample/train.jsonl",
            "max_steps": 4,
            "max_seq_len": 256,
            "micro_batch_size": 2,
            "gradient_accumulation_steps": 1,
        }
    }
    with timed(figures, "training_s"):
        response = trainer.post("/v1/training-jobs", body, **{"Idempotency-Key": "compose-train"})
        assert response.status_code == 202, response.text
        job = trainer.wait_finished(f"/v1/training-jobs/{response.json()['id']}", timeout=1200)
    assert job["status"] == "succeeded", job
    assert job["result"]["finished"] and job["result"]["global_step"] == 4, job
    bundle = str(job["result"]["bundle"])
    assert bundle.startswith(f"{ADAPTER}@"), bundle
    _load_adapter(admin, bundle)
    return str(job["id"]), bundle


def _load_adapter(admin: str, bundle: str) -> None:
    gateway = Api(GATEWAY, admin)
    loaded = gateway.post("/v1/adapters", {"adapter": bundle})
    assert loaded.status_code == 201, loaded.text
    models = {m["id"] for m in gateway.job("/v1/models")["data"]}
    assert {"base", ADAPTER} <= models, models


def _evaluate(key: str, admin: str, figures: dict[str, Any]) -> str:
    """The base model against the adapter: BERTScore, ROUGE-L, the judge, factual errors."""
    evaluator = Api(EVALUATOR, key)
    body = {
        "dataset": {"items": EVALUATION_ITEMS},
        "candidates": ["base", ADAPTER],
        "metrics": ["bertscore", "rouge_l", "judge", "factuality"],
        "judge": {"model": "base"},
        "generation": {"max_tokens": 48},
    }
    with timed(figures, "evaluation_s"):
        response = evaluator.post(
            "/v1/evaluations", body, **{"Idempotency-Key": "first-evaluation"}
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        job = evaluator.wait_finished(f"/v1/evaluations/{job_id}", timeout=1800)
    assert job["status"] == "succeeded", job
    report = evaluator.job(f"/v1/evaluations/{job_id}/report")
    generations = {c["name"]: c["generations"] for c in report["candidates"]}
    assert generations == {"base": 2, ADAPTER: 2}, generations
    markdown = evaluator.get(f"/v1/evaluations/{job_id}/report.md")
    assert markdown.status_code == 200 and ADAPTER in markdown.text
    return job_id


def _audit(key: str, figures: dict[str, Any]) -> str:
    """Six conversations of the sample training data, checked against the sample corpus."""
    auditor = Api(AUDITOR, key)
    lines = sample_lines(REPO / "data" / "sample" / "train.jsonl", 6)
    body = {"dataset": "".join(json.dumps(line) + "\n" for line in lines)}
    with timed(figures, "audit_s"):
        response = auditor.post("/v1/audits", body, **{"Idempotency-Key": "first-audit"})
        assert response.status_code == 202, response.text
        job = auditor.wait_finished(f"/v1/audits/{response.json()['id']}", timeout=900)
    assert job["status"] == "succeeded", job
    assert job["summary"], job
    return str(job["id"])


def _kill_a_worker_mid_job(stack: LocalStack, key: str, figures: dict[str, Any]) -> str:
    """SIGKILL the evaluator worker's container while a job runs: a new container takes the job
    over and it finishes once, every unit stored once, under the one job its key names."""
    evaluator = Api(EVALUATOR, key)
    items = KILLED_JOB_ITEMS
    body = {
        "dataset": {"items": items},
        "candidates": ["base", ADAPTER],
        "metrics": ["bertscore", "rouge_l"],
        "generation": {"max_tokens": 96},
    }
    headers = {"Idempotency-Key": "killed-worker"}
    job_id = evaluator.post("/v1/evaluations", body, **headers).json()["id"]

    def generating() -> bool:
        generate = evaluator.job(f"/v1/evaluations/{job_id}")["stages"].get("generate", {})
        return 0 < generate.get("done", 0) < generate.get("total", 0)

    wait_for("the job's first generations", generating, timeout=600, interval=0.5)
    (before,) = stack.container_ids("evaluator-worker")
    stack.compose("kill -s SIGKILL evaluator-worker")
    killed_at = time.monotonic()
    assert generating(), "the kill did not land mid-job"
    stack.compose("up -d evaluator-worker")
    job = evaluator.wait_finished(f"/v1/evaluations/{job_id}", timeout=1200)
    figures["job_finished_after_worker_kill_s"] = round(time.monotonic() - killed_at, 1)
    assert job["status"] == "succeeded", job
    for stage, progress in job["stages"].items():
        assert progress["done"] == progress["total"], (stage, progress)
    assert job["stages"]["generate"]["total"] == len(items) * 2
    replay = evaluator.post("/v1/evaluations", body, **headers)
    assert replay.json()["id"] == job_id and replay.headers.get("Idempotent-Replayed") == "true"
    report = evaluator.job(f"/v1/evaluations/{job_id}/report")
    generations = {c["name"]: c["generations"] for c in report["candidates"]}
    assert report["items"] == len(items) and generations == {"base": 4, ADAPTER: 4}, generations
    assert stack.container_ids("evaluator-worker") == [before]  # the same service, started again
    return job_id


def _restart_and_find_everything(
    stack: LocalStack,
    key: str,
    admin: str,
    training: tuple[str, str],
    evaluations: list[str],
    audit: str,
    figures: dict[str, Any],
) -> None:
    """`down` (containers gone, volumes kept) and `up` again: the jobs, their reports and the
    bundle are read back from the stack's volumes."""
    before = {
        job_id: Api(EVALUATOR, key).get(f"/v1/evaluations/{job_id}/report.md").text
        for job_id in evaluations
    }
    stack.compose("--profile train down", timeout=300)
    assert stack.compose("ps -q", check=False).strip() == ""
    with timed(figures, "restart_to_first_answer_s"):
        stack.compose("up -d", timeout=900)
        _first_chat_completion(key)
    evaluator = Api(EVALUATOR, key)
    for job_id, markdown in before.items():
        assert evaluator.job(f"/v1/evaluations/{job_id}")["status"] == "succeeded"
        assert evaluator.get(f"/v1/evaluations/{job_id}/report.md").text == markdown
    assert Api(AUDITOR, key).job(f"/v1/audits/{audit}")["status"] == "succeeded"
    stack.compose("--profile train up -d trainer", timeout=600)
    trainer = Api(TRAINER, admin)
    wait_for("the trainer API", lambda: healthy(TRAINER), timeout=300)
    job_id, bundle = training
    job = trainer.job(f"/v1/training-jobs/{job_id}")
    assert job["status"] == "succeeded" and job["result"]["bundle"] == bundle
    # The gateway keeps its loaded set in the store and loads it again at start: the bundle is
    # served again without being asked for, and answers.
    gateway = Api(GATEWAY, admin)

    def served() -> bool:
        return ADAPTER in {m["id"] for m in gateway.job("/v1/models")["data"]}

    wait_for("the adapter served again after the restart", served, timeout=300)
    reply = gateway.post(
        "/v1/chat/completions",
        {"model": ADAPTER, "max_tokens": 8, "messages": [{"role": "user", "content": QUESTION}]},
    )
    assert reply.status_code == 200 and reply.json()["model"] == ADAPTER, reply.text


def _record(figures: dict[str, Any], stack: LocalStack) -> None:
    RESULTS.write_text(
        json.dumps(
            {
                "command": "make compose-test",
                "date": datetime.now(UTC).strftime("%Y-%m-%d"),
                "host": {
                    "cpus": os.cpu_count(),
                    "machine": platform.machine(),
                    "storage_driver": stack.run("docker info --format '{{.Driver}}'").strip(),
                },
                "figures": figures,
                # The env file is a temporary path: named by its variable, as the docs do.
                "steps": [
                    dict(vars(step), command=step.command.replace(str(stack.env_file), "$ENV_FILE"))
                    for step in stack.steps
                ],
            },
            indent=1,
        )
        + "\n"
    )
