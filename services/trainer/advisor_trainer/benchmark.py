"""The hook `benchmarks/trainer_gpu.py` measures the trainer through: the trainer's own backend
choice, model loading, optimizer and step code on batches of given lengths (random token ids,
every non-padding token a target, as the harness feeds its other contenders)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .backends import choose_backend, importable, load_model
from .config import TrainingJobConfig
from .device import detect_device
from .optimizer_step import optimizer_step
from .optimizers import build_optimizer
from .tokenization import TokenizedExample

DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def synthetic_batch(lengths: list[int], step: int, vocab_size: int) -> list[TokenizedExample]:
    """Random ids (seeded by the step), loss on every token: the harness's workload."""
    import torch

    generator = torch.Generator().manual_seed(step)
    batch = []
    for row, length in enumerate(lengths):
        ids = torch.randint(3, vocab_size, (length,), generator=generator).tolist()
        batch.append(TokenizedExample(f"synthetic-{step}-{row}", ids, list(ids)))
    return batch


def run_benchmark_session(
    *,
    model_dir: Path,
    lengths: list[list[int]],
    dtype_name: str,
    backend: str = "auto",
    flop_per_token: float | None = None,
) -> dict[str, Any]:
    """Train one step per entry of `lengths` (one micro-batch each) with the paper's LoRA and
    optimizer settings; return step times, losses, tokens and measured peak memory."""
    import torch

    started = time.perf_counter()
    longest = max(max(step) for step in lengths)
    config = TrainingJobConfig(
        base_model=str(model_dir), backend=backend, max_seq_len=longest,  # type: ignore[arg-type]
        micro_batch_size=max(len(step) for step in lengths), gradient_accumulation_steps=1,
    )  # fmt: skip
    device = detect_device()
    choice = choose_backend(
        config.backend,
        device,
        unsloth_importable=importable("unsloth"),
        bitsandbytes_importable=importable("bitsandbytes"),
    )
    if choice.name == "unsloth":
        from .backends import unsloth

        unsloth.preimport()
    dtype = DTYPE_NAMES[dtype_name] if choice.name != "cpu-lora" else "float32"
    torch.manual_seed(config.seed)
    loaded = load_model(choice.name, config, str(model_dir), dtype)
    trainable = [p for p in loaded.model.parameters() if p.requires_grad]
    optimizer, optimizer_used = build_optimizer(
        config.optim, trainable, lr=config.learning_rate, weight_decay=0.0, device_kind=device.kind
    )
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == "float16")
    on_cuda = loaded.device.startswith("cuda")
    vocab_size = int(loaded.model.config.vocab_size)
    load_s = time.perf_counter() - started
    loaded.model.train()
    if on_cuda:
        torch.cuda.reset_peak_memory_stats()
    times, losses, tokens = [], [], []
    for step, step_lengths in enumerate(lengths):
        batch = synthetic_batch(step_lengths, step, vocab_size)
        if on_cuda:
            torch.cuda.synchronize()
        step_started = time.perf_counter()
        loss, _ = optimizer_step(
            loaded, optimizer, scaler, trainable, [batch],
            lr=config.learning_rate, max_grad_norm=config.max_grad_norm, pad_token_id=0,
        )  # fmt: skip
        if on_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - step_started)
        losses.append(loss)
        tokens.append(sum(step_lengths))
    result: dict[str, Any] = {
        "step_times_s": times,
        "losses": losses,
        "tokens_per_step": tokens,
        "trainable_params": sum(p.numel() for p in trainable),
        "backend": choice.name,
        "backend_reason": choice.reason,
        "dtype": loaded.dtype,
        "optimizer": optimizer_used,
        "load_s": load_s,
        "flop_per_token": flop_per_token,
    }
    if on_cuda:
        result["peak_allocated_gb"] = torch.cuda.max_memory_allocated() / 1e9
        result["peak_reserved_gb"] = torch.cuda.max_memory_reserved() / 1e9
    return result
