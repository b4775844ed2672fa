"""Decode steps over a preallocated KV cache, replayed as CUDA graphs.

A decode step of a 7B model at small batch sizes is bound by the host: transformers' forward
issues some thousand small kernels, each with its Python, and the GPU waits between them
(eager decoding reached 15 % of the memory-bandwidth limit at batch 1). Here the step has
fixed shapes, so it can be captured once as a CUDA graph and replayed with one launch:

- the KV cache is one buffer per layer, `[slots, kv_heads, tokens, head_dim]`, allocated once;
  the rows of the running batch occupy slots `0..n-1` (a finished row's slot is refilled by
  moving the last row into it), so attention reads a view, never a gathered copy;
- a step runs a bucket of `rows` (1, 2, 4, ... up to the slots) over the first `length` cache
  positions (a power of two), so a few graphs serve every batch; rows past the live ones are
  idle (position 0 of a free slot) and their logits are ignored;
- each row writes its new key and value at its own position (`scatter_`), and attends to
  positions `<=` its own through a mask built inside the step from the positions, so rows of
  different lengths share one step without padding;
- grouped-query attention reads each KV head once: the query heads of a group are laid out
  as the query length of one SDPA call (`[rows, kv_heads, group, head_dim]`), instead of
  repeating keys and values per query head.

The step calls the model's own modules (norms, projections, MLP, rotary embedding), so peft's
LoRA layers, the lean LoRA path and bitsandbytes' quantised layers take part unchanged; a graph
is captured per (instance, adapter, rows, length) on first use, and dropped when the model's
layers change (an adapter loaded or unloaded). Prompts are prefilled by the ordinary forward
and copied into their slots. Without CUDA (or with graphs off) the same step runs eagerly,
which is how the CPU tests check it against the ordinary forward.

Supported: Llama- and Mistral-architecture models without a sliding window (Mistral-7B v0.3,
the embedded SmolLM2); `supports(model)` says why another is not, and the engine then decodes
through transformers' forward as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .fused_projections import GATE_UP, QKV, FusedLinear, LoraPlan, fuse, project

log = logging.getLogger(__name__)

ARCHITECTURES = ("llama", "mistral")
MIN_LENGTH = 64


def supports(model: Any) -> str | None:
    """None when `model` can decode here; otherwise why not."""
    config = model.config
    if config.model_type not in ARCHITECTURES:
        return f"architecture {config.model_type!r} (supported: {', '.join(ARCHITECTURES)})"
    if getattr(config, "sliding_window", None):
        return "a sliding attention window"
    layer = model.model.layers[0]
    if any(hasattr(layer.self_attn, name) for name in ("q_norm", "k_norm")):
        return "query/key norms"
    return None


def bucket(value: int, limit: int, floor: int = 1) -> int:
    """The smallest power of two >= value (at least `floor`), capped at `limit`."""
    size = floor
    while size < value:
        size *= 2
    return min(size, limit)


@dataclass(frozen=True)
class CacheShape:
    layers: int
    slots: int
    kv_heads: int
    tokens: int
    head_dim: int
    dtype: torch.dtype

    @property
    def bytes(self) -> int:
        per = torch.empty((), dtype=self.dtype).element_size()
        return 2 * self.layers * self.slots * self.kv_heads * self.tokens * self.head_dim * per

    @classmethod
    def of(cls, model: Any, slots: int, tokens: int) -> CacheShape:
        config = model.config
        head_dim = getattr(config, "head_dim", None) or (
            config.hidden_size // config.num_attention_heads
        )
        return cls(
            config.num_hidden_layers,
            slots,
            config.num_key_value_heads,
            tokens,
            head_dim,
            model.dtype if model.dtype.is_floating_point else torch.bfloat16,
        )


class StaticDecoder:
    """The KV cache, the step's input buffers and the captured graphs of one engine."""

    def __init__(self, model: Any, *, slots: int, tokens: int, use_graphs: bool | None = None):
        self.shape = CacheShape.of(model, slots, tokens)
        device = next(model.parameters()).device
        self.device = device
        s = self.shape
        size = (s.slots, s.kv_heads, s.tokens, s.head_dim)
        self.keys = [torch.zeros(size, dtype=s.dtype, device=device) for _ in range(s.layers)]
        self.values = [torch.zeros(size, dtype=s.dtype, device=device) for _ in range(s.layers)]
        self._ids = torch.zeros(s.slots, dtype=torch.long, device=device)
        self._positions = torch.zeros(s.slots, dtype=torch.long, device=device)
        self.use_graphs = device.type == "cuda" if use_graphs is None else use_graphs
        self._graphs: dict[tuple[Any, ...], tuple[Any, torch.Tensor]] = {}
        # Per model: each layer's fused (q, k, v) and (gate, up) products, made on first use.
        self._fused: dict[int, tuple[Any, list[tuple[FusedLinear | None, FusedLinear | None]]]] = {}
        # Per step key (instance, adapter...): how each fused product applies the adapter.
        self._plans: dict[tuple[Any, ...], list[tuple[Any, Any]]] = {}
        self._pool: Any = None
        log.info("static KV cache: %d slots x %d tokens, %.2f GB", s.slots, s.tokens, s.bytes / 1e9)

    # --- cache contents -------------------------------------------------------------------

    def store_prompt(self, slot: int, keys: list[torch.Tensor], values: list[torch.Tensor]) -> None:
        """Copy one row's prefilled keys/values (`[kv_heads, n, head_dim]` per layer) to `slot`."""
        for layer, (k, v) in enumerate(zip(keys, values, strict=True)):
            n = k.shape[-2]
            self.keys[layer][slot, :, :n].copy_(k)
            self.values[layer][slot, :, :n].copy_(v)

    def move(self, source: int, target: int, length: int) -> None:
        """Copy the first `length` positions of slot `source` into slot `target`."""
        for cache in (*self.keys, *self.values):
            cache[target, :, :length].copy_(cache[source, :, :length])

    # --- the step -------------------------------------------------------------------------

    def decode(
        self,
        model: Any,
        key: tuple[Any, ...],
        ids: list[int],
        positions: list[int],
        prepare: Callable[[], Any] | None = None,
    ) -> torch.Tensor:
        """Logits `[len(ids), vocab]` after feeding `ids[i]` at `positions[i]` to slot `i`.

        `key` names what the step's modules compute (instance and adapter): a graph is kept
        per key and bucket. `prepare` (e.g. selecting the adapter) runs before any eager pass
        or capture; a replay needs none."""
        n = len(ids)
        if not 0 < n <= self.shape.slots:
            raise ValueError(f"a step takes 1..{self.shape.slots} rows, got {n}")
        if max(positions) >= self.shape.tokens:
            raise ValueError(f"position {max(positions)} is past the cache ({self.shape.tokens})")
        rows = bucket(n, self.shape.slots) if self.use_graphs else n
        length = bucket(max(positions) + 1, self.shape.tokens, MIN_LENGTH)
        pad = rows - n
        self._ids[:rows].copy_(torch.tensor(ids + [0] * pad), non_blocking=True)
        self._positions[:rows].copy_(torch.tensor(positions + [0] * pad), non_blocking=True)
        with torch.inference_mode():
            if not self.use_graphs:
                if prepare:
                    prepare()
                return self._step(model, key, rows, length)[:n]
            graph_key = (*key, rows, length)
            captured = self._graphs.get(graph_key)
            if captured is None:
                if prepare:
                    prepare()
                try:
                    captured = self._graphs[graph_key] = self._capture(model, key, rows, length)
                except RuntimeError:
                    # A layer that cannot be captured (a kernel that syncs with the host):
                    # decode eagerly from now on rather than fail the requests.
                    log.exception("CUDA graph capture failed; decoding without graphs")
                    self.use_graphs = False
                    return self._step(model, key, n, length)[:n]
            graph, logits = captured
            graph.replay()
            return logits[:n]

    def forget_graphs(self) -> None:
        """Drop every graph (the model's layers changed: an adapter was attached or removed)."""
        self._graphs.clear()
        self._plans.clear()  # the adapters' stacked matrices (fused_projections.LoraPlan)
        # The memory pool goes with its last graph: a later capture must start a new one.
        self._pool = None

    def _capture(
        self, model: Any, key: tuple[Any, ...], rows: int, length: int
    ) -> tuple[Any, torch.Tensor]:
        # Warm-up passes on a side stream first (cuBLAS picks its kernels, lazy weights are
        # folded). They write this step's own keys/values, as the replay will: no harm done.
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            for _ in range(2):
                self._step(model, key, rows, length)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        with torch.cuda.graph(graph, pool=self._pool):
            logits = self._step(model, key, rows, length)
        return graph, logits

    def _layers(self, model: Any) -> list[tuple[FusedLinear | None, FusedLinear | None]]:
        """Each layer's fused products, made once per model (its weights become views)."""
        known = self._fused.get(id(model))
        if known is None or known[0] is not model:
            layers = [
                (fuse(layer.self_attn, QKV), fuse(layer.mlp, GATE_UP))
                for layer in model.model.layers
            ]
            known = self._fused[id(model)] = (model, layers)
        return known[1]

    def _lora_plans(self, model: Any, key: tuple[Any, ...]) -> list[tuple[Any, Any]]:
        plans = self._plans.get(key)
        if plans is None:
            dtype = self.shape.dtype

            def plan(fused: FusedLinear | None) -> str | tuple[torch.Tensor, torch.Tensor] | None:
                return LoraPlan.of(fused, dtype) if fused is not None else None

            plans = self._plans[key] = [
                (plan(qkv), plan(gate_up)) for qkv, gate_up in self._layers(model)
            ]
        return plans

    def _step(self, model: Any, key: tuple[Any, ...], rows: int, length: int) -> torch.Tensor:
        """One token per row through every layer; logits of the new position."""
        decoder = model.model
        ids, positions = self._ids[:rows], self._positions[:rows]
        hidden = decoder.embed_tokens(ids)  # [rows, hidden]: one token per row
        cos, sin = decoder.rotary_emb(hidden, positions[:, None])
        cos, sin = cos.view(rows, 1, -1), sin.view(rows, 1, -1)  # broadcast over heads
        # Each row sees the cache positions up to its own (later ones are another request's).
        visible = torch.arange(length, device=ids.device)[None, :] <= positions[:, None]
        mask = visible[:, None, None, :]
        where = positions.view(rows, 1, 1, 1).expand(
            rows, self.shape.kv_heads, 1, self.shape.head_dim
        )
        fused, plans = self._layers(model), self._lora_plans(model, key)
        for index, layer in enumerate(decoder.layers):
            (qkv, gate_up), (qkv_plan, gate_up_plan) = fused[index], plans[index]
            x = _norm(layer.input_layernorm, hidden)
            if qkv is None:
                attn = layer.self_attn
                q, k, v = attn.q_proj(x), attn.k_proj(x), attn.v_proj(x)
            else:
                q, k, v = project(qkv, x, qkv_plan)
            hidden = hidden + _attend(
                layer.self_attn,
                q,
                k,
                v,
                cos,
                sin,
                self.keys[index][:rows],
                self.values[index][:rows],
                where,
                mask,
                length,
            )
            x = _norm(layer.post_attention_layernorm, hidden)
            if gate_up is None:
                hidden = hidden + layer.mlp(x)
            else:
                gate, up = project(gate_up, x, gate_up_plan)
                hidden = hidden + layer.mlp.down_proj(layer.mlp.act_fn(gate) * up)
        return model.lm_head(_norm(decoder.norm, hidden))


def _norm(norm: Any, x: torch.Tensor) -> torch.Tensor:
    """Llama's RMSNorm as torch's fused kernel (one kernel instead of eight); any other norm
    runs its module. The weight multiplies before the cast to the model's dtype, where
    transformers multiplies after: the same value up to one rounding of bf16."""
    eps = getattr(norm, "variance_epsilon", None)
    if eps is None or not type(norm).__name__.endswith("RMSNorm"):
        return norm(x)
    return F.rms_norm(x, (x.shape[-1],), norm.weight, eps)


def _attend(
    attn: Any,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    where: torch.Tensor,
    mask: torch.Tensor,
    length: int,
) -> torch.Tensor:
    """Attention of one new token per row; `q`, `k`, `v` are `[rows, heads * head_dim]`."""
    rows = q.shape[0]
    kv_heads, head_dim = keys.shape[1], keys.shape[3]
    q = _rotate(q.view(rows, -1, head_dim), cos, sin)  # [rows, heads, head_dim]
    k = _rotate(k.view(rows, kv_heads, head_dim), cos, sin)
    keys.scatter_(2, where, k.view(rows, kv_heads, 1, head_dim))
    values.scatter_(2, where, v.view(rows, kv_heads, 1, head_dim))
    heads = q.shape[1]
    # Query heads h*g .. h*g+g-1 share KV head h (transformers' repeat_kv order).
    grouped = q.view(rows, kv_heads, heads // kv_heads, head_dim)
    out = F.scaled_dot_product_attention(
        grouped, keys[:, :, :length], values[:, :, :length], attn_mask=mask, scale=attn.scaling
    )
    return attn.o_proj(out.reshape(rows, heads * head_dim))


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding (Llama's rotate-half convention)."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin
