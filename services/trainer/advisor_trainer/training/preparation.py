"""Everything checked before any model is loaded: budget, device, backend, base model,
tokenizer and template, data, schedule, the bundle to resume from, and the memory estimate.

Bad input fails here, in seconds, with a message that names the problem (issue 3, "bad input
... each a clear error before any GPU work").
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor_shared.chat_template import template_fingerprint, tokenizer_template
from advisor_shared.dataset import load_dataset
from advisor_shared.models import ResolvedModel, resolve_base_model
from advisor_shared.store import ObjectStore

from ..backends import BackendChoice, choose_backend, importable, policy_backend
from ..checkpoints import resume
from ..config import TrainingJobConfig
from ..data.order import DataOrder, split_validation
from ..data.packing import packed_row_width_bound
from ..data.tokenization import TokenizedExample, encode_dataset
from ..errors import TrainingDataError
from ..hardware.device import DEVICE_PROFILES, DeviceInfo, choose_dtype, detect_device
from ..hardware.memory import (
    MemoryEstimate,
    ModelShape,
    bytes_per_row,
    estimate_peak_memory,
    refuse_if_too_big,
)
from .budget import SessionBudget
from .schedule import LRSchedule
from .tracking import check_tracker_library

log = logging.getLogger(__name__)


@dataclass
class RunPlan:
    """A checked plan: what will run, on what, from where, and in which order."""

    config: TrainingJobConfig
    budget: SessionBudget
    device: DeviceInfo
    backend: BackendChoice
    dtype: str
    simulated_device: dict[str, Any] | None
    base: ResolvedModel
    tokenizer: Any
    chat_template: str
    template_sha256: str
    train: list[TokenizedExample]
    validation: list[TokenizedExample]
    skipped_without_targets: list[str]
    order: DataOrder
    schedule: LRSchedule
    training_shape: dict[str, Any]
    memory: MemoryEstimate
    resume_point: resume.ResumePoint | None
    row_bytes: float = 0.0  # memory one packed row adds to a pass (hardware/pass_size.py)

    @property
    def pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id)


def prepare_run(
    config: TrainingJobConfig,
    store: ObjectStore,
    cache_dir: Path,
    *,
    budget: SessionBudget | None = None,
    device: DeviceInfo | None = None,
) -> RunPlan:
    """Check everything that can be checked cheaply; raise a TrainerError naming the fault."""
    budget = budget or SessionBudget.from_config(
        config.session_budget, config.deadline, config.budget_margin_s
    )
    check_tracker_library(config.report_to)
    device = device or detect_device()
    backend = choose_backend(
        config.backend,
        device,
        unsloth_importable=importable("unsloth"),
        bitsandbytes_importable=importable("bitsandbytes"),
    )
    if backend.name == "unsloth":
        from ..backends import unsloth

        unsloth.preimport()  # before transformers is imported by the tokenizer below
    dtype = choose_dtype(device, config.precision)
    simulated = _simulated_device(config)
    base = resolve_base_model(config.base_model, cache_dir)

    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base.location)
    chat_template = tokenizer_template(tokenizer)
    template_sha = template_fingerprint(chat_template)

    conversations = load_dataset(Path(config.dataset))
    examples = encode_dataset(
        tokenizer, conversations, max_seq_len=config.max_seq_len, loss_on=config.loss_on
    )
    train_idx, val_idx = split_validation(
        [e.conversation_id for e in examples], config.validation_fraction, config.seed
    )
    train = [examples[i] for i in train_idx if examples[i].target_count]
    skipped = [examples[i].conversation_id for i in train_idx if not examples[i].target_count]
    if skipped:
        log.warning("%d conversation(s) have no assistant token within max_seq_len", len(skipped))
    validation = [examples[i] for i in val_idx if examples[i].target_count]
    if not train:
        raise TrainingDataError("the training split holds no conversation with assistant tokens")

    order = DataOrder(
        tuple(e.length for e in train),
        config.data_seed,
        config.micro_batch_size,
        config.gradient_accumulation_steps,
        config.length_grouping,
        config.length_group_size,
    )
    total_steps = config.max_steps or config.num_train_epochs * order.steps_per_epoch
    schedule = LRSchedule.build(
        config.lr_scheduler_type, config.learning_rate, config.warmup_ratio, total_steps
    )
    shape = training_shape(config, train, total_steps)

    resume_point = None
    if config.resume is not None:
        ref = resume.locate(store, config.resume, config.run_name)
        if ref is not None:
            resume.check_fingerprints(
                store, ref, base_fingerprint=base.fingerprint, template_sha256=template_sha
            )
            resume_point = resume.fetch(
                store,
                ref,
                Path(config.output_dir) / "resume",
                include_optimizer=config.save_optimizer,
            )
            if config.resume_mode == "restore":
                resume.check_training_shape(resume_point.ledger, shape, ref)

    model_shape = ModelShape.from_config(AutoConfig.from_pretrained(base.location))
    longest = max(e.length for e in train + validation)
    if config.packing:
        # Packed rows fill up to max_seq_len with several conversations, whatever the longest.
        step_size = config.micro_batch_size * config.gradient_accumulation_steps
        longest = packed_row_width_bound(
            [e.length for e in train + validation],
            max_seq_len=config.max_seq_len,
            step_size=max(step_size, config.micro_batch_size),
        )
    memory = _estimate(config, model_shape, backend.name, dtype, longest, device)
    row_bytes = bytes_per_row(
        model_shape,
        backend=backend.name,
        dtype=dtype,
        seq_len=min(config.max_seq_len, longest),
        gradient_checkpointing=config.gradient_checkpointing,
    )
    refuse_if_too_big(memory)
    if simulated is not None:
        card = DEVICE_PROFILES[config.device_profile or ""]
        simulated_memory = _estimate(
            config,
            model_shape,
            simulated["policy_backend"],
            simulated["policy_dtype"],
            longest,
            card,
        )
        simulated["memory_estimate"] = simulated_memory.to_dict()
        refuse_if_too_big(simulated_memory, f" the simulated {card.name}")

    return RunPlan(
        config=config,
        budget=budget,
        device=device,
        backend=backend,
        dtype=dtype,
        simulated_device=simulated,
        base=base,
        tokenizer=tokenizer,
        chat_template=chat_template,
        template_sha256=template_sha,
        train=train,
        validation=validation,
        skipped_without_targets=skipped,
        order=order,
        schedule=schedule,
        training_shape=shape,
        memory=memory,
        resume_point=resume_point,
        row_bytes=row_bytes,
    )


def training_shape(
    config: TrainingJobConfig, train: list[TokenizedExample], total_steps: int
) -> dict[str, Any]:
    """What must not change across an exact resume (see resume.EXACT_RESUME_FIELDS)."""
    digest = hashlib.sha256()
    for example in train:
        digest.update(example.conversation_id.encode() + b"\0")
        digest.update(",".join(map(str, example.input_ids)).encode() + b"\n")
    return {
        "train_digest": digest.hexdigest(),
        "train_examples": len(train),
        "max_seq_len": config.max_seq_len,
        "micro_batch_size": config.micro_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "length_grouping": config.length_grouping,
        "length_group_size": config.length_group_size,
        "seed": config.seed,
        "validation_fraction": config.validation_fraction,
        "loss_on": config.loss_on,
        "total_steps": total_steps,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler_type,
        "warmup_ratio": config.warmup_ratio,
        "lora_r": config.lora_r,
        "lora_alpha": config.lora_alpha,
        "lora_target_modules": list(config.lora_target_modules),
    }


def _simulated_device(config: TrainingJobConfig) -> dict[str, Any] | None:
    if config.device_profile is None:
        return None
    card = DEVICE_PROFILES[config.device_profile]
    return {
        "profile": config.device_profile,
        "name": card.name,
        "compute_capability": card.capability_text,
        "total_memory_bytes": card.total_memory_bytes,
        "policy_dtype": choose_dtype(card, config.precision),
        "policy_backend": policy_backend(card),
        "note": "simulated on this machine; the session record says what really ran",
    }


def _estimate(
    config: TrainingJobConfig,
    shape: ModelShape,
    backend: str,
    dtype: str,
    longest: int,
    device: DeviceInfo,
) -> MemoryEstimate:
    return estimate_peak_memory(
        shape,
        backend=backend,
        dtype=dtype,
        # Packed passes hold rows_per_pass rows when it is configured (else chosen to fit).
        micro_batch_size=max(
            config.micro_batch_size, (config.packing and config.rows_per_pass) or 0
        ),
        seq_len=min(config.max_seq_len, longest),
        lora_r=config.lora_r,
        lora_targets=config.lora_target_modules,
        optimizer=config.optim if device.kind == "cuda" else "adamw_torch",
        gradient_checkpointing=config.gradient_checkpointing,
        load_in_4bit=config.load_in_4bit,
        double_quant=config.bnb_4bit_use_double_quant,
        device_name=device.name,
        capacity_bytes=device.total_memory_bytes,
    )
