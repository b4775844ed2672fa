"""advisor-trainer: QLoRA fine-tuning that knows its session budget and hands over only the
adapter (DESIGN.md, issue 3)."""

__version__ = "0.1.0"
