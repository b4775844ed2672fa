"""Peak-memory estimate, checked before any model is loaded.

Worst case of one optimizer step, with S = the longest tokenized sequence (capped at
max_seq_len) and T = micro_batch x S tokens. In bytes:

  base weights   4-bit linear layers: 0.5 B/param, plus the quantisation constants
                 (0.5 bit/param single, 0.127 bit/param with double quant); embeddings, head
                 and norms in fp32 (peft's k-bit preparation upcasts them; Unsloth keeps
                 them in 16 bit). Unquantised: every parameter at the dtype's width.
  LoRA           trainable x (4 weight + 4 gradient + optimizer state: 8 AdamW, 2 8-bit)
  activations    with gradient checkpointing: the layer inputs, L x T x H x a (a = activation
                 width) plus one layer recomputed, T x (12 H + 4 I) x a; without it, every
                 layer's working set, L x T x (12 H + 4 I) x a. Unsloth's checkpointing
                 offloads the layer inputs to host memory.
  attention      B x heads x S^2 x 16 per layer held (scores, softmax in fp32, their
                 gradients); not for Unsloth, whose kernels never hold the score matrix
  logits         T x V x (a + 4 + 4): logits, their fp32 upcast for the loss, its gradient
                 (Unsloth: T x V x 2, its loss is chunked)
  overhead       CUDA: allocator slack x 1.18 (reserved/allocated measured on the H200,
                 docs/gpu.md) + 0.5 GB context; CPU: x 1.10 + 1 GB for the runtime

Checked against the H200 measurements of docs/gpu.md#the-first-baseline (transformers + peft +
bitsandbytes, NF4 + double quant, gradient checkpointing, 8-bit AdamW, Mistral-7B shape): 2048 x 2
estimates 12.68 GB allocated vs 12.41 measured; 1024 x 4 estimates 10.53 GB vs 10.26; Unsloth at
2048 x 2 estimates 5.70 GB vs 5.74. The estimate is compared with the card's total memory (CUDA) or
the RAM still available (CPU); a config above it is refused with these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import MemoryBudgetError

GB = 1e9
LORA_BYTES_PER_PARAM = {"adamw_torch": 16, "adamw_8bit": 10, "paged_adamw_8bit": 10}
CUDA_SLACK, CUDA_CONTEXT = 1.18, 0.5 * GB
CPU_SLACK, CPU_RUNTIME = 1.10, 1.0 * GB
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a decoder that decide its memory (read from config.json)."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    tie_word_embeddings: bool

    @classmethod
    def from_config(cls, config: Any) -> ModelShape:
        heads = int(config.num_attention_heads)
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        return cls(
            vocab_size=int(config.vocab_size),
            hidden_size=int(config.hidden_size),
            intermediate_size=int(config.intermediate_size),
            num_layers=int(config.num_hidden_layers),
            num_heads=heads,
            num_kv_heads=int(getattr(config, "num_key_value_heads", None) or heads),
            head_dim=int(head_dim),
            tie_word_embeddings=bool(getattr(config, "tie_word_embeddings", False)),
        )

    def projection_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear layer of one decoder layer."""
        h, i = self.hidden_size, self.intermediate_size
        q, kv = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        return {
            "q_proj": (h, q),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (q, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def linear_params(self) -> int:
        per_layer = sum(a * b for a, b in self.projection_shapes().values())
        return per_layer * self.num_layers

    @property
    def other_params(self) -> int:
        embeddings = self.vocab_size * self.hidden_size
        head = 0 if self.tie_word_embeddings else embeddings
        norms = (2 * self.num_layers + 1) * self.hidden_size
        return embeddings + head + norms

    def lora_params(self, rank: int, targets: tuple[str, ...]) -> int:
        shapes = self.projection_shapes()
        unknown = [t for t in targets if t not in shapes]
        if unknown:
            raise MemoryBudgetError(f"cannot estimate LoRA on unknown module(s) {unknown}")
        return self.num_layers * sum(rank * sum(shapes[t]) for t in targets)


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak bytes by component, and what the device offers."""

    components: dict[str, float]
    total_bytes: float
    capacity_bytes: float
    device: str
    backend: str

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.capacity_bytes

    def describe(self) -> str:
        parts = ", ".join(f"{k} {v / GB:.2f}" for k, v in self.components.items())
        return (
            f"estimated peak {self.total_bytes / GB:.2f} GB ({parts} GB) on {self.device} "
            f"[{self.backend}] with {self.capacity_bytes / GB:.2f} GB"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_gb": round(self.total_bytes / GB, 3),
            "capacity_gb": round(self.capacity_bytes / GB, 3),
            "components_gb": {k: round(v / GB, 3) for k, v in self.components.items()},
            "device": self.device,
            "backend": self.backend,
            "fits": self.fits,
        }


def estimate_peak_memory(
    shape: ModelShape,
    *,
    backend: str,
    dtype: str,
    micro_batch_size: int,
    seq_len: int,
    lora_r: int,
    lora_targets: tuple[str, ...],
    optimizer: str,
    gradient_checkpointing: bool,
    load_in_4bit: bool,
    double_quant: bool,
    device_name: str,
    capacity_bytes: float,
) -> MemoryEstimate:
    """The formula of the module docstring; see there for each term's reason."""
    act = DTYPE_BYTES[dtype]
    quantised = backend in ("hf-bnb", "unsloth") and load_in_4bit
    if quantised:
        constants_bits = 0.127 if double_quant else 0.5
        other_width = 2 if backend == "unsloth" else 4
        weights = shape.linear_params * (0.5 + constants_bits / 8)
        weights += shape.other_params * other_width
    else:
        weights = (shape.linear_params + shape.other_params) * act
    lora = shape.lora_params(lora_r, lora_targets) * LORA_BYTES_PER_PARAM.get(optimizer, 16)
    activations, attention, logits = _pass_terms(
        shape,
        backend=backend,
        act=act,
        rows=micro_batch_size,
        seq_len=seq_len,
        gradient_checkpointing=gradient_checkpointing,
    )
    components = {
        "weights": float(weights),
        "lora_and_optimizer": float(lora),
        "activations": float(activations),
        "attention": float(attention),
        "logits": float(logits),
    }
    allocated = sum(components.values())
    if backend == "cpu-lora":
        total = allocated * CPU_SLACK + CPU_RUNTIME
    else:
        total = allocated * CUDA_SLACK + CUDA_CONTEXT
    components["overhead"] = total - allocated
    return MemoryEstimate(components, total, float(capacity_bytes), device_name, backend)


def _pass_terms(
    shape: ModelShape,
    *,
    backend: str,
    act: int,
    rows: int,
    seq_len: int,
    gradient_checkpointing: bool,
) -> tuple[float, float, float]:
    """(activations, attention, logits) bytes of a forward pass of `rows` x `seq_len` tokens."""
    tokens = rows * seq_len
    h, i, layers = shape.hidden_size, shape.intermediate_size, shape.num_layers
    layer_working_set = tokens * (12 * h + 4 * i) * act
    scores = rows * shape.num_heads * seq_len**2 * 16
    if backend == "unsloth":
        activations = layer_working_set if gradient_checkpointing else layers * layer_working_set
        return activations, 0.0, tokens * shape.vocab_size * 2
    if gradient_checkpointing:
        activations, attention = layers * tokens * h * act + layer_working_set, scores
    else:
        activations, attention = layers * layer_working_set, layers * scores
    return activations, attention, tokens * shape.vocab_size * (act + 4 + 4)


def bytes_per_row(
    shape: ModelShape, *, backend: str, dtype: str, seq_len: int, gradient_checkpointing: bool
) -> float:
    """What one more row of `seq_len` tokens adds to a forward pass, allocator slack included
    (the terms of the module docstring that grow with the tokens of a pass)."""
    terms = _pass_terms(
        shape,
        backend=backend,
        act=DTYPE_BYTES[dtype],
        rows=1,
        seq_len=seq_len,
        gradient_checkpointing=gradient_checkpointing,
    )
    return sum(terms) * (CPU_SLACK if backend == "cpu-lora" else CUDA_SLACK)


def refuse_if_too_big(estimate: MemoryEstimate, what: str = "") -> None:
    """Raise MemoryBudgetError with the numbers when the estimate exceeds the capacity."""
    if not estimate.fits:
        raise MemoryBudgetError(
            f"config does not fit{what}: {estimate.describe()}; lower micro_batch_size "
            "(or rows_per_pass) or max_seq_len, enable gradient_checkpointing, or use a bigger "
            "device"
        )
