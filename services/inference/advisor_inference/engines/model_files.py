"""The gateway reads what it needs about a base model from its files alone (no torch); the
readers live in the shared library, where the adapter import uses them too."""

from advisor_shared.model_files import (
    hub_snapshot,
    llama_linear_shapes,
    read_chat_template,
    read_linear_shapes,
)

__all__ = ["hub_snapshot", "llama_linear_shapes", "read_chat_template", "read_linear_shapes"]
