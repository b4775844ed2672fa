"""Small datasets and configs for the trainer tests (tiny model, seconds per run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from advisor_trainer.config import TrainingJobConfig

# Words the tiny tokenizer was trained on, so conversations stay a few dozen tokens long.
QUESTIONS = [
    "What is the application deadline?",
    "What English score do students need?",
    "What scholarships can I apply for?",
    "What are the action steps?",
]
ANSWERS = [
    "The application deadline is 15 March 2027 and the fee is EUR 120.",
    "Students need an English score of 6.5 and proof of funds.",
    "Check the official page for scholarships and apply early.",
    "Action steps: check the official page, prepare documents, apply early.",
]


def conversation(index: int) -> dict[str, Any]:
    q, a = QUESTIONS[index % 4], ANSWERS[(index // 4) % 4]
    messages = [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    if index % 3 == 0:  # some two-turn conversations, so lengths vary
        messages += [
            {"role": "user", "content": QUESTIONS[(index + 1) % 4]},
            {"role": "assistant", "content": ANSWERS[(index + 2) % 4]},
        ]
    return {"id": f"conv-{index:03d}", "messages": messages}


def write_dataset(path: Path, count: int = 24) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(conversation(i)) + "\n" for i in range(count)))
    return path


def tiny_config(
    model_dir: Path, dataset: Path, output_dir: Path, **changes: Any
) -> TrainingJobConfig:
    """A config that trains the tiny model in well under a second per step."""
    values: dict[str, Any] = {
        "run_name": "tiny-run",
        "base_model": str(model_dir),
        "dataset": str(dataset),
        "max_seq_len": 96,
        "micro_batch_size": 2,
        "gradient_accumulation_steps": 2,
        "num_train_epochs": 2,
        "validation_fraction": 0.15,
        "lora_r": 4,
        "lora_alpha": 8,
        "learning_rate": 5e-3,
        "warmup_ratio": 0.1,
        "gradient_checkpointing": False,
        "checkpoint_every_steps": 0,
        "budget_margin_s": 0.0,
        "output_dir": str(output_dir),
        "length_group_size": 4,
    }
    values.update(changes)
    return TrainingJobConfig.from_mapping(values)
