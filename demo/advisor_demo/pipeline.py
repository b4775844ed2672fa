"""The demo's stages, each through the real service commands:

audit the training data → gate it → fine-tune on the gated data and, as the paper's
counterfactual, on the ungated data, each across two sessions with a budget-forced handoff
(the second in a new process with another device profile) → serve base and both adapters
from the gateway process → evaluate (BERTScore, both-order judge, factuality via the auditor)
→ report.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import signal
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from advisor_shared.bundle import BundleRef, read_bundle
from advisor_shared.errors import BundleError
from advisor_shared.store import LocalStore

from .auditor_service import DemoAuditor
from .processes import Server, advisor_command, child_environment, free_port, run_logged
from .profile import DemoProfile
from .stages import StageLog

# Serving and evaluating on a CPU: the evaluator sends up to 16 requests at once and the
# gateway decodes up to 16 rows per step (on a CPU a step of 16 rows costs little more than one
# of 4, so the answers come about as many times faster); the evaluator's own work (BERTScore,
# the report) keeps to one thread, leaving the cores to the gateway that generates and judges.
GATEWAY_BATCH = {"ADVISOR_MAX_BATCH_SIZE": "16"}
EVALUATOR_THREADS = {"ADVISOR_INPROCESS_CONCURRENCY": "16", "OMP_NUM_THREADS": "1"}


@dataclass
class DemoPaths:
    """Where a demo run keeps its work (`var/demo`) and writes its report (`out/demo`)."""

    repo: Path
    out: Path
    work: Path

    @property
    def store(self) -> Path:
        return self.work / "store"

    @property
    def logs(self) -> Path:
        return self.out / "logs"

    @property
    def sample(self) -> Path:
        return self.repo / "data" / "sample"


@dataclass
class TrainingRun:
    """One fine-tune: its adapter name, the dataset and what each session did."""

    label: str
    adapter: str
    dataset: Path
    reused: bool = False
    ledger: dict[str, Any] = field(default_factory=dict)
    budget_s: float | None = None


class DemoContext:
    """Settings every stage passes to the services, derived once per run."""

    def __init__(self, paths: DemoPaths, profile: DemoProfile, cache_dir: Path):
        self.paths, self.profile = paths, profile
        self.api_key = "demo-" + secrets.token_hex(12)
        self.env = child_environment(
            {
                "ADVISOR_ENVIRONMENT": "development",
                "ADVISOR_STORE_URL": f"file://{paths.store.resolve()}",
                "ADVISOR_CACHE_DIR": str(cache_dir.resolve()),
                "ADVISOR_API_KEYS": self.api_key,
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false",
                # An OpenMP thread that waits sleeps instead of spinning: with the gateway, the
                # auditor and the evaluator on two cores (or anyone else's work), spinning
                # threads take the cores from the ones computing (benchmarks/omp_wait.py).
                "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
            }
        )
        self.store = LocalStore(paths.store)
        # The auditor answers for the sample corpus; answers it audits are traced to the data.
        self.auditor_env = self.env | {
            "ADVISOR_AUDITOR_SOURCES": str(paths.sample / "sources"),
            "ADVISOR_AUDITOR_TRAINING_DATA": str(paths.sample / "train.jsonl"),
        }

    def auditor(self) -> DemoAuditor:
        """The run's auditor API (not started yet)."""
        return DemoAuditor(self.auditor_env, self.api_key, self.paths.logs / "auditor.log")


def audit_training_data(ctx: DemoContext, auditor: DemoAuditor) -> dict[str, Any]:
    """The auditor API gates the sample training data: findings, summary, clean set, kept in
    a folder named by the content audited (a second run reuses it)."""
    train = ctx.paths.sample / "train.jsonl"
    inputs = [train, *sorted((ctx.paths.sample / "sources").glob("*"))]
    out = ctx.paths.work / "audit" / content_digest(*inputs)
    if (out / "summary.json").is_file() and (out / "clean.jsonl").is_file():
        return {
            "dir": str(out),
            "summary": json.loads((out / "summary.json").read_text()),
            "seconds": 0.0,
            "reused": True,
        }
    started = time.monotonic()
    key = f"datasets/local/{content_digest(train)}.jsonl"
    if not ctx.store.exists(key):
        ctx.store.put_bytes(key, train.read_bytes())
    job = auditor.gate(key, idempotency_key=f"demo-gate-{out.name}")
    out.mkdir(parents=True, exist_ok=True)
    # Fetched over the API; summary.json last, since it marks the folder complete.
    for name in sorted(job["files"], key=lambda n: n == "summary.json"):
        (out / name).write_bytes(auditor.fetch(job["files"][name]))
    summary = {**job["summary"]["data"], "job_id": job["id"]}
    return {
        "dir": str(out),
        "summary": summary,
        "seconds": time.monotonic() - started,
        "reused": False,
    }


def content_digest(*parts: Path | bytes) -> str:
    """A short hash of files' bytes (or raw bytes): the key under which a stage's output is
    kept, so a second demo run reuses it instead of storing it again."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else Path(part).read_bytes())
    return digest.hexdigest()[:12]


def training_config(ctx: DemoContext, run: TrainingRun) -> Path:
    """The job config both sessions of a run share (only the device profile differs)."""
    p = ctx.profile
    config: dict[str, Any] = {
        "run_name": run.adapter,
        "base_model": p.base_model,
        "dataset": str(run.dataset),
        "max_seq_len": p.max_seq_len,
        "micro_batch_size": p.micro_batch_size,
        "gradient_accumulation_steps": p.gradient_accumulation_steps,
        "learning_rate": p.learning_rate,
        "lr_scheduler_type": p.lr_scheduler,
        "warmup_ratio": p.warmup_ratio,
        "output_dir": str(ctx.paths.work / "train" / run.adapter),
        "budget_margin_s": 5.0,
        # Activations of a 135M model fit easily in RAM: recomputing them would cost a third.
        "gradient_checkpointing": p.name.startswith("gpu"),
    }
    if p.train_steps:
        config["max_steps"] = p.train_steps
    path = ctx.paths.work / "train" / f"{run.adapter}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=True))
    return path


def adapter_name(label: str, profile: DemoProfile, dataset: Path) -> str:
    """Names carry a hash of what was trained, so a second demo run reuses a finished adapter
    instead of storing another copy, and a changed dataset or profile trains anew."""
    digest = hashlib.sha256(dataset.read_bytes() + json.dumps(profile.to_dict()).encode())
    return f"demo-{label}-{digest.hexdigest()[:8]}"


def finished_ledger(ctx: DemoContext, adapter: str) -> dict[str, Any] | None:
    """The ledger of the newest committed bundle of `adapter` if that run is complete."""
    try:
        bundle = read_bundle(ctx.store, BundleRef(adapter), ctx.paths.work / "bundles")
    except BundleError:
        return None
    state = bundle.trainer_state
    return state if state.get("global_step", 0) >= state.get("total_steps", 1) else None


def train_with_handoff(
    ctx: DemoContext, run: TrainingRun, step_estimate_s: float, budget_s: float | None = None
) -> None:
    """Session 1 until its budget runs out (or, with the 'signal' handoff, until it is sent
    SIGTERM after its share of the steps), then session 2 in a new process, resuming from the
    bundle with `--resume auto`."""
    existing = finished_ledger(ctx, run.adapter)
    if existing is not None:
        run.reused, run.ledger = True, existing
        return
    config = training_config(ctx, run)
    p = ctx.profile
    steps = p.train_steps or 0
    # The trainer's clock starts before the model loads, and before its first bundle write is
    # measured it keeps a reserve for one (about 12 s): the fixed part covers both.
    if budget_s is None and steps and step_estimate_s and p.handoff == "budget":
        budget_s = round(20.0 + p.first_session_share * steps * step_estimate_s, 1)
    run.budget_s = budget_s
    first_events = ctx.paths.logs / f"{run.adapter}-session1.jsonl"
    first = ["train", "--config", str(config), "--events", str(first_events)]
    if budget_s is not None:
        first += ["--session-budget", f"{budget_s}s"]
    second = [
        "train",
        "--config",
        str(config),
        "--resume",
        "auto",
        "--events",
        str(ctx.paths.logs / f"{run.adapter}-session2.jsonl"),
    ]
    if p.first_device:
        first += ["--device-profile", p.first_device]
    if p.second_device:
        second += ["--device-profile", p.second_device]
    # Without a budget the first session is stopped by a signal, as a preempted one would be.
    stopper = StopAfterShare(first_events, p.first_session_share) if budget_s is None else None
    first_events.unlink(missing_ok=True)  # a failed earlier attempt's steps must not count
    run_logged(
        advisor_command(*first),
        ctx.env,
        ctx.paths.logs / f"{run.adapter}-session1.log",
        on_tick=stopper,
        poll_s=0.1 if stopper else 0.5,
    )
    state = finished_ledger(ctx, run.adapter)
    if state is None:  # the budget or the signal stopped it: hand over to a new process
        run_logged(
            advisor_command(*second), ctx.env, ctx.paths.logs / f"{run.adapter}-session2.log"
        )
        state = finished_ledger(ctx, run.adapter)
    if state is None:
        raise BundleError(f"{run.adapter}: no finished bundle after both sessions")
    run.ledger = state


class StopAfterShare:
    """Sends a trainer session SIGTERM once its events file shows it has completed `share` of
    the run's steps (at least one, at most all but one). The trainer finishes the running step,
    writes its bundle and exits (`advisor_trainer.training.stop_signals`): the notice Kaggle or
    Kubernetes gives."""

    def __init__(self, events: Path, share: float):
        self.events, self.share = events, share
        self.target: int | None = None
        self.sent = False
        self._offset = 0

    def __call__(self, process: subprocess.Popen[bytes]) -> None:
        if self.sent or not self.events.is_file():
            return
        with open(self.events, encoding="utf-8") as handle:
            handle.seek(self._offset)
            lines = handle.readlines()
        complete = [line for line in lines if line.endswith("\n")]  # a line being written waits
        self._offset += sum(len(line.encode("utf-8")) for line in complete)
        for event in map(json.loads, complete):
            if event.get("event") == "start":
                total = int(event["total_steps"])
                self.target = min(total - 1, max(1, math.ceil(self.share * total)))
            elif event.get("event") == "step" and self.target is not None:
                if int(event["step"]) >= self.target and self.target >= 1:
                    process.send_signal(signal.SIGTERM)
                    self.sent = True
                    return


def evaluation_config(ctx: DemoContext, candidates: dict[str, str]) -> Path:
    """The evaluation request: test prompts vs references, every candidate, the gateway's base
    model as the judge (weak: the report shows its measured bias), factuality via the auditor."""
    p = ctx.profile
    request = {
        "dataset": {"path": str(ctx.paths.sample / "test.jsonl")},
        "training_dataset_path": str(ctx.paths.sample / "train.jsonl"),
        "candidates": list(candidates.values()),
        "baseline": candidates["base"],
        # Finding (b): the fine-tune on all the data against the one on the gated data.
        "contrasts": [[candidates["fine-tuned"], candidates["fine-tuned (gated data)"]]],
        "metrics": ["bertscore", "rouge_l", "judge", "factuality"],
        "judge": {"model": candidates["base"], "max_tokens": p.judge_max_tokens},
        "generation": {"max_tokens": p.new_tokens, "temperature": 0.0},
        "sample": {"size": p.eval_prompts, "seed": 42},
    }
    path = ctx.paths.work / "evaluation.yaml"
    path.write_text(yaml.safe_dump(request, sort_keys=False))
    return path


def serve_and_evaluate(
    ctx: DemoContext, runs: list[TrainingRun], stages: StageLog, auditor: DemoAuditor
) -> dict[str, Any]:
    """Start the gateway with base + adapters (the auditor API may be up from the gate
    already), run `advisor eval` against them, and return the evaluation report; each of the
    three is its own stage."""
    gateway_port = free_port()
    serve = [
        "serve",
        "--port",
        str(gateway_port),
        "--api-key",
        ctx.api_key,
        "--base",
        ctx.profile.base_model,
        "--log-level",
        "warning",
    ]
    for run in runs:
        serve += ["--adapter", run.adapter]
    env = ctx.env | {
        "ADVISOR_INFERENCE_URL": f"http://127.0.0.1:{gateway_port}/v1",
        "ADVISOR_INFERENCE_API_KEY": ctx.api_key,
        "ADVISOR_AUDITOR_URL": auditor.url,
        "ADVISOR_AUDITOR_API_KEY": ctx.api_key,
    }
    candidates = {"base": "base"} | {run.label: run.adapter for run in runs}
    config = evaluation_config(ctx, candidates)
    versions = json.dumps([run.ledger.get("global_step") for run in runs]).encode()
    out = ctx.paths.work / "eval" / content_digest(config, versions)
    if (out / "report.json").is_file():
        with stages.stage("evaluate (reused)") as record:
            record["reused"] = True
            report = json.loads((out / "report.json").read_text())
        return {
            "dir": str(out),
            "report": report,
            "candidates": candidates,
            "seconds": 0.0,
            "reused": True,
        }
    with ExitStack() as servers:
        # Started at once if the gate did not need it: its start-up overlaps the gateway's.
        auditor.start()
        servers.callback(auditor.stop)
        with stages.stage(f"serve: the gateway with the base and {len(runs)} adapters"):
            gateway = Server(
                advisor_command(*serve), env | GATEWAY_BATCH, ctx.paths.logs / "gateway.log"
            )
            servers.callback(gateway.stop)
            gateway.wait_ready(f"http://127.0.0.1:{gateway_port}/readyz")
        with stages.stage("serve: the auditor API"):
            auditor.wait_ready()
        with stages.stage("evaluate: generate, score, judge both orders, audit the answers"):
            seconds = run_logged(
                advisor_command("eval", "--config", str(config), "--out", str(out)),
                env | EVALUATOR_THREADS,
                ctx.paths.logs / "eval.log",
            )
            servers.close()  # stopped inside the stage, so their CPU time counts in it
    report = json.loads((out / "report.json").read_text())
    return {
        "dir": str(out),
        "report": report,
        "candidates": candidates,
        "seconds": seconds,
        "reused": False,
    }
