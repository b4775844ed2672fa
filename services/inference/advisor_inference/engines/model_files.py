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
    hidden = int(config["hidden_size"])  # type: ignore[call-overload]
    heads = int(config["num_attention_heads"])  # type: ignore[call-overload]
    kv_heads = int(config.get("num_key_value_heads") or heads)  # type: ignore[call-overload]
    head_dim = int(config.get("head_dim") or hidden // heads)  # type: ignore[call-overload]
    inner = int(config["intermediate_size"])  # type: ignore[call-overload]
    block = {
        "self_attn.q_proj": (heads * head_dim, hidden),
        "self_attn.k_proj": (kv_heads * head_dim, hidden),
        "self_attn.v_proj": (kv_heads * head_dim, hidden),
        "self_attn.o_proj": (hidden, heads * head_dim),
        "mlp.gate_proj": (inner, hidden),
        "mlp.up_proj": (inner, hidden),
        "mlp.down_proj": (hidden, inner),
    }
    layers = int(config["num_hidden_layers"])  # type: ignore[call-overload]
    return {
        f"model.layers.{i}.{name}": shape for i in range(layers) for name, shape in block.items()
    }


def read_linear_shapes(folder: Path) -> dict[str, tuple[int, int]] | None:
    config = folder / "config.json"
    if not config.is_file():
        return None
    return llama_linear_shapes(json.loads(config.read_text(encoding="utf-8")))
