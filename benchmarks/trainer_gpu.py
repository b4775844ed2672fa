"""QLoRA training speed and memory on a Mistral-7B-v0.3-shaped model (random weights, NF4).

Runs on a CUDA machine (the H200 benchmark host). Every contender runs in its own subprocess
(clean CUDA memory statistics; Unsloth must be imported before transformers), on the same
model folder and the same batches, in ONE command, so ratios are measured in the same run:

  baseline       the paper's recipe: transformers + peft + bitsandbytes NF4, gradient
                 checkpointing, 8-bit AdamW, batches padded to their longest, no packing
  unsloth        raw Unsloth as its documentation shows it (`use_gradient_checkpointing="unsloth"`)
  ours           advisor_trainer with its default backend, as users run it
  ours-fallback  advisor_trainer's transformers backend (the path for cards Unsloth cannot use)

Workloads: `full` = random full-length 2048-token sequences, micro-batch 2; `mix` = a length
mix of multi-turn advising conversations (log-normal lengths, median 650 tokens, clipped to
[120, 2048]; see `conversation_lengths`), where only non-padding tokens count.

    python benchmarks/trainer_gpu.py --out benchmarks/results/trainer_gpu.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HIDDEN, INTERMEDIATE, LAYERS, HEADS, KV_HEADS, VOCAB = 4096, 14336, 32, 32, 8, 32768
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
EXPECTED_TRAINABLE = 41_943_040
SEQ_LEN, MICRO_BATCH = 2048, 2
# Forward + recomputed forward + backward through frozen weights ≈ 6 FLOP per parameter per
# trained token (no weight gradients for the frozen base); attention FLOPs are not counted.
PARAMS_7B = 7.24e9
FLOP_PER_TOKEN = 6 * PARAMS_7B


def build_model(model_dir: Path) -> float:
    """A random Mistral-7B-v0.3-shaped model in bf16 with a 32768-entry tokenizer."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast

    if (model_dir / "config.json").is_file():
        return 0.0
    started = time.perf_counter()
    config = MistralConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS, num_attention_heads=HEADS, num_key_value_heads=KV_HEADS,
        max_position_embeddings=32768, sliding_window=None, tie_word_embeddings=False,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = MistralForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(model_dir)
    del model
    torch.cuda.empty_cache()
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2} | {f"t{i}": i for i in range(3, VOCAB)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<unk>", model_max_length=32768,
    )  # fmt: skip
    tokenizer.chat_template = (
        "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }}"
        " [/INST]{% else %} {{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
    )
    tokenizer.save_pretrained(model_dir)
    return time.perf_counter() - started


def conversation_lengths(count: int, seed: int) -> list[int]:
    """Token lengths of 4–6-turn advising conversations: log-normal, median 650, clipped."""
    import random

    rng = random.Random(seed)
    return [
        min(SEQ_LEN, max(120, int(rng.lognormvariate(math.log(650), 0.55)))) for _ in range(count)
    ]


def workload_batches(workload: str, steps: int, seed: int = 0) -> list[list[int]]:
    """Per step, the lengths of the sequences in the micro-batch (identical for all contenders)."""
    if workload == "full":
        return [[SEQ_LEN] * MICRO_BATCH for _ in range(steps)]
    lengths = conversation_lengths(steps * MICRO_BATCH, seed)
    return [lengths[i : i + MICRO_BATCH] for i in range(0, len(lengths), MICRO_BATCH)]


def padded_batch(lengths: list[int], step: int) -> dict[str, Any]:
    """Right-padded to the longest sequence, labels -100 on padding (the paper's collator)."""
    import torch

    generator = torch.Generator().manual_seed(step)
    width = max(lengths)
    ids = torch.zeros((len(lengths), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(3, VOCAB, (length,), generator=generator)
        mask[row, :length] = 1
    labels = ids.masked_fill(mask == 0, -100)
    return {"input_ids": ids.cuda(), "attention_mask": mask.cuda(), "labels": labels.cuda()}


def dtype_from_name(name: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16}[name]


def load_baseline(model_dir: Path, dtype_name: str):
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    dtype = dtype_from_name(dtype_name)
    quant = BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
    )  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, quantization_config=quant, dtype=dtype, device_map={"": 0}
    )
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=TARGETS,
                      bias="none", task_type="CAUSAL_LM")  # fmt: skip
    model = get_peft_model(model, lora)
    if dtype == torch.float16:
        # fp16 training keeps trainable weights in fp32 (as Trainer's amp does) for the scaler.
        for param in model.parameters():
            if param.requires_grad:
                param.data = param.data.float()
    return model


def load_unsloth(model_dir: Path, dtype_name: str):
    from unsloth import FastLanguageModel

    model, _ = FastLanguageModel.from_pretrained(
        model_name=str(model_dir), max_seq_length=SEQ_LEN, dtype=dtype_from_name(dtype_name),
        load_in_4bit=True, local_files_only=True,
    )  # fmt: skip
    model = FastLanguageModel.get_peft_model(
        model, r=16, target_modules=TARGETS, lora_alpha=32, lora_dropout=0, bias="none",
        use_gradient_checkpointing="unsloth", random_state=3407, max_seq_length=SEQ_LEN,
    )  # fmt: skip
    return model


def train_steps(model, batches: list[list[int]], dtype_name: str) -> dict[str, Any]:
    """The same loop for the library contenders: forward, backward, clip 0.3, 8-bit AdamW."""
    import bitsandbytes as bnb
    import torch

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = bnb.optim.AdamW8bit(trainable, lr=2e-4, weight_decay=0.0)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype_name == "fp16")
    model.train()
    times, losses, tokens = [], [], []
    torch.cuda.reset_peak_memory_stats()
    for step, lengths in enumerate(batches):
        batch = padded_batch(lengths, step)
        torch.cuda.synchronize()
        started = time.perf_counter()
        with torch.autocast("cuda", dtype=dtype_from_name(dtype_name)):
            loss = model(**batch).loss
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(trainable, 0.3)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
        losses.append(float(loss.detach()))
        tokens.append(sum(lengths))
    return {
        "step_times_s": times,
        "losses": losses,
        "tokens_per_step": tokens,
        "peak_allocated_gb": torch.cuda.max_memory_allocated() / 1e9,
        "peak_reserved_gb": torch.cuda.max_memory_reserved() / 1e9,
        "trainable_params": sum(p.numel() for p in trainable),
    }


def run_ours(
    model_dir: Path, workload: str, steps: int, dtype_name: str, backend: str
) -> dict[str, Any]:
    """advisor_trainer as users run it, through its benchmark hook (data pipeline included)."""
    from advisor_trainer.benchmark import run_benchmark_session  # type: ignore[import-not-found]

    return run_benchmark_session(
        model_dir=model_dir, lengths=workload_batches(workload, steps), dtype_name=dtype_name,
        backend=backend, flop_per_token=FLOP_PER_TOKEN,
    )  # fmt: skip


def run_one(
    contender: str, model_dir: Path, workload: str, steps: int, dtype_name: str
) -> dict[str, Any]:
    started = time.perf_counter()
    if contender in ("ours", "ours-fallback"):
        backend = "auto" if contender == "ours" else "hf-bnb"
        result = run_ours(model_dir, workload, steps, dtype_name, backend)
    else:
        load = load_unsloth if contender == "unsloth" else load_baseline
        model = load(model_dir, dtype_name)
        loaded = time.perf_counter() - started
        result = train_steps(model, workload_batches(workload, steps), dtype_name)
        result["load_s"] = loaded
    return summarise(result, warmup=3)


def summarise(result: dict[str, Any], warmup: int) -> dict[str, Any]:
    times = result["step_times_s"][warmup:]
    tokens = result["tokens_per_step"][warmup:]
    rate = sum(tokens) / sum(times)
    result.update(
        median_step_s=statistics.median(times),
        effective_tokens_per_s=rate,
        mfu=rate * FLOP_PER_TOKEN / MATMUL_PEAK_FLOPS,
        measured_steps=len(times),
    )
    return result


MATMUL_PEAK_FLOPS = 7.9e14  # measured bf16 dense matmul rate on this H200 (8192³, random data)


def versions() -> dict[str, str]:
    import importlib.metadata as md

    found = {"python": platform.python_version()}
    for name in (
        "torch",
        "transformers",
        "peft",
        "bitsandbytes",
        "unsloth",
        "unsloth_zoo",
        "trl",
        "triton",
    ):
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            found[name] = "absent"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contenders", default="baseline,unsloth,ours,ours-fallback")
    parser.add_argument("--workloads", default="full,mix")
    parser.add_argument("--dtypes", default="bf16")
    parser.add_argument("--steps", type=int, default=13, help="3 warm-up + measured steps")
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/mistral7b-shaped"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--run-one", nargs=3, metavar=("CONTENDER", "WORKLOAD", "DTYPE"))
    args = parser.parse_args()

    if args.run_one:
        contender, workload, dtype_name = args.run_one
        result = run_one(contender, args.model_dir, workload, args.steps, dtype_name)
        args.out.write_text(json.dumps(result))
        return

    import torch

    report: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "device": torch.cuda.get_device_name(0),
        "compute_capability": list(torch.cuda.get_device_capability(0)),
        "versions": versions(),
        "config": {"seq_len": SEQ_LEN, "micro_batch": MICRO_BATCH, "lora_r": 16, "lora_alpha": 32,
                   "targets": TARGETS, "optimizer": "bitsandbytes AdamW8bit", "max_grad_norm": 0.3,
                   "steps": args.steps, "warmup_steps_excluded": 3,
                   "mix_lengths": "log-normal(median 650, sigma 0.55) clipped to [120, 2048]"},
        "flop_per_token": FLOP_PER_TOKEN,
        "matmul_peak_flops": MATMUL_PEAK_FLOPS,
        "model_build_s": build_model(args.model_dir),
        "runs": {},
    }  # fmt: skip
    for dtype_name in args.dtypes.split(","):
        for workload in args.workloads.split(","):
            for contender in args.contenders.split(","):
                key = f"{contender}/{workload}/{dtype_name}"
                out = args.out.with_suffix(f".{contender}.{workload}.{dtype_name}.json")
                proc = subprocess.run(
                    [sys.executable, __file__, "--run-one", contender, workload, dtype_name,
                     "--steps", str(args.steps), "--model-dir", str(args.model_dir), "--out", str(out)],
                    capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )  # fmt: skip
                if proc.returncode == 0 and out.is_file():
                    report["runs"][key] = json.loads(out.read_text())
                    out.unlink()
                else:
                    report["runs"][key] = {"error": proc.stderr[-3000:]}
                run = report["runs"][key]
                print(
                    key,
                    {
                        k: run.get(k)
                        for k in (
                            "effective_tokens_per_s",
                            "peak_reserved_gb",
                            "trainable_params",
                            "error",
                        )
                    },
                    flush=True,
                )
                args.out.write_text(json.dumps(report, indent=2))
    report["summary"] = summary(report["runs"])
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report["summary"], indent=2))


def summary(runs: dict[str, Any]) -> dict[str, Any]:
    def rate(key: str) -> float | None:
        return runs.get(key, {}).get("effective_tokens_per_s")

    def ratio(a: str, b: str) -> float | None:
        ra, rb = rate(a), rate(b)
        return ra / rb if ra and rb else None

    trainable = {k: v.get("trainable_params") for k, v in runs.items() if "trainable_params" in v}
    return {
        "trainable_params": trainable,
        "unsloth_vs_baseline_full_length": ratio("unsloth/full/bf16", "baseline/full/bf16"),
        "unsloth_vs_baseline_length_mix": ratio("unsloth/mix/bf16", "baseline/mix/bf16"),
        "ratio_vs_raw_unsloth_full_length": ratio("ours/full/bf16", "unsloth/full/bf16"),
        "speedup_full_length": ratio("ours/full/bf16", "baseline/full/bf16"),
        "speedup_length_mix": ratio("ours/mix/bf16", "baseline/mix/bf16"),
        "fallback_speedup_length_mix": ratio("ours-fallback/mix/bf16", "baseline/mix/bf16"),
        "peak_reserved_gb_2048x2": runs.get("ours/full/bf16", {}).get("peak_reserved_gb"),
        "fallback_peak_reserved_gb_2048x2": runs.get("ours-fallback/full/bf16", {}).get(
            "peak_reserved_gb"
        ),
        "mfu": runs.get("ours/full/bf16", {}).get("mfu"),
    }


if __name__ == "__main__":
    main()
