"""What can be learnt about a base model from its files alone, without torch: its chat template,
the Linear shapes its LoRA targets have, and where a hub id lives in a Hugging Face cache.

The gateway in front of vLLM uses these (its image has no torch), and so does the adapter
import, which checks a PEFT folder against the base before writing a bundle.
"""

from __future__ import annotations

import json
from pathlib import Path

from .safetensors_header import inspect_safetensors

# Decoders whose projections follow the Llama layout (the formula below holds for each).
LLAMA_LIKE = ("llama", "mistral", "qwen2", "qwen3")
FLOAT_WEIGHTS = frozenset({"F32", "F16", "BF16"})


def read_chat_template(folder: Path) -> str | None:
    """The template transformers would use: `chat_template.jinja`, else tokenizer_config.json."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config = folder / "tokenizer_config.json"
    if config.is_file():
        template = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
        if isinstance(template, dict):  # some tokenizers keep several named templates
            template = template.get("default")
        if isinstance(template, list):  # ... or a list of {"name", "template"}
            named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
            template = named.get("default")
        return template if isinstance(template, str) else None
    return None


def llama_linear_shapes(config: dict[str, object]) -> dict[str, tuple[int, int]] | None:
    """`(out, in)` of every projection of a Llama/Mistral decoder, from config.json; None for
    other architectures (the adapter's shapes are then checked by the engine alone)."""
    if config.get("model_type") not in LLAMA_LIKE:
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
    """The base's Linear shapes: from config.json for Llama-like decoders, else from the 2-D
    float weights its safetensors files declare (their headers only); None if neither tells."""
    config = folder / "config.json"
    if not config.is_file():
        return None
    shapes = llama_linear_shapes(json.loads(config.read_text(encoding="utf-8")))
    return shapes if shapes is not None else weight_shapes(folder)


def weight_shapes(folder: Path) -> dict[str, tuple[int, int]] | None:
    """`<module>: (out, in)` for every 2-D float `<module>.weight` in the folder's safetensors
    files. Quantised checkpoints pack their weights into other shapes and dtypes: those are
    skipped, and a folder with none left gives None."""
    shapes: dict[str, tuple[int, int]] = {}
    for path in sorted(folder.glob("*.safetensors")):
        for name, tensor in inspect_safetensors(path).items():
            if (
                name.endswith(".weight")
                and len(tensor.shape) == 2
                and tensor.dtype in FLOAT_WEIGHTS
            ):
                out_features, in_features = tensor.shape
                shapes[name.removesuffix(".weight")] = (out_features, in_features)
    return shapes or None


def hub_snapshot(hub_cache: Path, repo_id: str) -> Path | None:
    """The folder of `repo_id` in a Hugging Face hub cache (`models--ORG--NAME/snapshots/REV`,
    the revision `refs/main` names, else the only one there), or None if it is not cached.
    This is how the gateway reads the files the vLLM engine downloaded, without the hub."""
    repo = Path(hub_cache) / ("models--" + repo_id.replace("/", "--"))
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    main = repo / "refs" / "main"
    if main.is_file():
        folder = snapshots / main.read_text(encoding="utf-8").strip()
        if folder.is_dir():
            return folder
    found = [p for p in snapshots.iterdir() if p.is_dir()]
    return found[0] if len(found) == 1 else None
