"""What the gateway can learn about a base model from its files alone, without torch:
the chat template and the Linear shapes of a Llama/Mistral block (for adapter checks with vLLM)."""

from __future__ import annotations

import json
from pathlib import Path


def read_chat_template(folder: Path) -> str | None:
    """The template transformers would use: `chat_template.jinja`, else tokenizer_config.json."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config = folder / "tokenizer_config.json"
    if config.is_file():
        template = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
        return template if isinstance(template, str) else None
    return None


def llama_linear_shapes(config: dict[str, object]) -> dict[str, tuple[int, int]] | None:
    """`(out, in)` of every projection of a Llama/Mistral decoder, from config.json; None for
    other architectures (the adapter's shapes are then checked by the engine alone)."""
    if config.get("model_type") not in ("llama", "mistral"):
        return None
    hidden = _positive_int(config, "hidden_size")
    heads = _positive_int(config, "num_attention_heads")
    kv_heads = _positive_int(config, "num_key_value_heads", default=heads)
    head_dim = _positive_int(config, "head_dim", default=hidden // heads)
    inner = _positive_int(config, "intermediate_size")
    block = {
        "self_attn.q_proj": (heads * head_dim, hidden),
        "self_attn.k_proj": (kv_heads * head_dim, hidden),
        "self_attn.v_proj": (kv_heads * head_dim, hidden),
        "self_attn.o_proj": (hidden, heads * head_dim),
        "mlp.gate_proj": (inner, hidden),
        "mlp.up_proj": (inner, hidden),
        "mlp.down_proj": (hidden, inner),
    }
    layers = _positive_int(config, "num_hidden_layers")
    return {
        f"model.layers.{i}.{name}": shape for i in range(layers) for name, shape in block.items()
    }


def _positive_int(config: dict[str, object], key: str, default: int | None = None) -> int:
    value = config.get(key) or default
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"config.json: {key} must be a positive integer")
    return value


def read_linear_shapes(folder: Path) -> dict[str, tuple[int, int]] | None:
    config = folder / "config.json"
    if not config.is_file():
        return None
    return llama_linear_shapes(json.loads(config.read_text(encoding="utf-8")))
