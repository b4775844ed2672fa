"""advisor-trainer: QLoRA fine-tuning that knows its session budget and hands over only the
adapter (docs/design.md, lesson 3; issue 3)."""

__version__ = "0.1.0"
