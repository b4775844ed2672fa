"""Owns the weights: the base model (wrapped by peft once an adapter is loaded), an optional
merged model, and the forward pass that applies each row's adapter.

Only the scheduler thread calls into a runner, so loading or deleting an adapter never races
a forward pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import lora_fast
from .sequence import BASE_INSTANCE, MERGED_INSTANCE
from .static_decode import StaticDecoder

log = logging.getLogger(__name__)
# peft's name for "no adapter" rows in a mixed batch (LoraLayer._mixed_batch_forward).
PEFT_BASE_ROW = "__base__"


@dataclass(frozen=True)
class DeviceChoice:
    device: torch.device
    dtype: torch.dtype


def choose_device(device: str = "auto", dtype: str = "auto") -> DeviceChoice:
    """CUDA when present; bf16 only from compute capability 8.0 (docs/design.md, lesson 5); fp32
    on the CPU. bf16 there (`dtype="bfloat16"`) decodes in about 0.66x the CPU time where the
    CPU computes it natively (benchmarks/cpu_bf16.py), but a row's tokens then depend on which
    other requests share its batch (near-ties flip), so an evaluation would not repeat: three
    runs of the embedded demo's evaluation in bf16 gave three different results, two in fp32
    the same (docs/inference.md)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    chosen = torch.device(device)
    if dtype != "auto":
        return DeviceChoice(chosen, getattr(torch, dtype))
    if chosen.type == "cuda":
        major, _ = torch.cuda.get_device_capability(chosen)
        return DeviceChoice(chosen, torch.bfloat16 if major >= 8 else torch.float16)
    return DeviceChoice(chosen, torch.float32)


QUANTIZATIONS = ("nf4",)


def load_causal_lm(path: str, choice: DeviceChoice, quantization: str | None = None) -> Any:
    """The model in `choice`'s dtype on its device; with `quantization="nf4"`, its linear
    layers in bitsandbytes' 4-bit NormalFloat (double-quantised, computing in `choice.dtype`):
    a 7B model in about 4 GB, for 16 GB cards. bitsandbytes is imported only then."""
    from transformers import AutoModelForCausalLM

    if quantization is None:
        model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=choice.dtype)
        return model.to(choice.device).eval()
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"quantization must be one of {', '.join(QUANTIZATIONS)}; got {quantization!r}"
        )
    if choice.device.type != "cuda":
        raise ValueError("NF4 serving needs a CUDA device (bitsandbytes' 4-bit kernels)")
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=choice.dtype,
    )
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=choice.dtype, quantization_config=config, device_map={"": choice.device}
    )
    return model.eval()


def linear_shapes(model: torch.nn.Module) -> dict[str, tuple[int, int]]:
    """`(out_features, in_features)` of every Linear module, by module path."""
    return {
        name: (module.out_features, module.in_features)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
    }


def cache_keyword(model: Any) -> str:
    """The name under which this model's forward takes the KV cache: `cache` in recent
    transformers, `past_key_values` before (5.17 on the GPU machine); an older model given
    `cache` ignores it and starts from an empty cache at every step."""
    import inspect

    parameters = inspect.signature(type(model).forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def serve_in_base_dtype(peft_model: Any, name: str, dtype: torch.dtype) -> None:
    """Cast adapter `name`'s LoRA weights to the base model's dtype, as vLLM serves them.

    Bundles hold fp32 weights (what training updates) and peft keeps them so, which on a bf16
    base makes every LoRA call cast its input to fp32, multiply in fp32 and cast back: on a
    launch-bound decode step those extra kernels, not the LoRA arithmetic, are the adapter's
    cost. On an fp32 base (the CPU) nothing changes."""
    marks = (f".lora_A.{name}.", f".lora_B.{name}.")
    for parameter_name, parameter in peft_model.named_parameters():
        if parameter.dtype != dtype and any(mark in parameter_name for mark in marks):
            parameter.data = parameter.data.to(dtype)


class ModelRunner:
    """Forward passes for a batch, with per-row LoRA adapters on the base instance."""

    def __init__(self, base: Any, merged: Any | None, device: torch.device):
        self._models = {BASE_INSTANCE: base}
        if merged is not None:
            self._models[MERGED_INSTANCE] = merged
        self._peft: Any | None = None
        self._cache_keyword = {name: cache_keyword(model) for name, model in self._models.items()}
        # Whether peft's LoRA layers are switched on; None after a load/unload (unknown).
        self._layers_enabled: bool | None = None
        self.device = device
        self.adapters: set[str] = set()
        # One adapter per batch through lora_fast (off: peft's own forward, for comparison).
        self.lean_lora = True
        # Decode steps over a preallocated cache, as CUDA graphs (None: transformers' forward).
        self.static: StaticDecoder | None = None

    def use_static_cache(self, *, slots: int, tokens: int, graphs: bool | None = None) -> None:
        self.static = StaticDecoder(
            self._models[BASE_INSTANCE], slots=slots, tokens=tokens, use_graphs=graphs
        )

    def decode_static(
        self, instance: str, adapter: str | None, ids: list[int], positions: list[int]
    ) -> torch.Tensor:
        """One decode step of a static batch: logits `[rows, vocab]` (see static_decode)."""
        assert self.static is not None, "use_static_cache() first"
        lean = self.lean_lora and adapter is not None

        def prepare() -> None:
            if instance == BASE_INSTANCE and self._peft is not None:
                self._switch_layers(enabled=adapter is not None)
                if adapter is not None and self._peft.active_adapter != adapter:
                    self._peft.set_adapter(adapter)

        key = (instance, adapter, lean)
        model = self._models[instance]
        if not lean:
            return self.static.decode(model, key, ids, positions, prepare)
        assert adapter is not None
        with lora_fast.use(adapter):
            return self.static.decode(model, key, ids, positions, prepare)

    def forward(
        self,
        instance: str,
        ids: torch.Tensor,
        mask: torch.Tensor,
        positions: torch.Tensor,
        cache: Any,
        adapters: list[str | None],
    ) -> torch.Tensor:
        """Logits of the last position of every row, `[rows, vocab]`."""
        kwargs = {
            "input_ids": ids.to(self.device),
            "attention_mask": mask.to(self.device),
            "position_ids": positions.to(self.device),
            self._cache_keyword[instance]: cache,
            "use_cache": True,
            "logits_to_keep": 1,
        }
        with torch.inference_mode():
            if instance != BASE_INSTANCE or self._peft is None:
                return self._models[instance](**kwargs).logits[:, -1, :]
            names = set(adapters)
            if names == {None}:
                self._switch_layers(enabled=False)
                return self._peft(**kwargs).logits[:, -1, :]
            self._switch_layers(enabled=True)
            # One adapter for the whole batch (not the base: that returned above): the plain
            # LoRA path is cheaper than mixed.
            name = next(iter(names)) if len(names) == 1 else None
            if name is not None:
                if self._peft.active_adapter != name:
                    self._peft.set_adapter(name)
                if not self.lean_lora:
                    return self._peft(**kwargs).logits[:, -1, :]
                with lora_fast.use(name):
                    return self._peft(**kwargs).logits[:, -1, :]
            adapter_names = [a or PEFT_BASE_ROW for a in adapters]
            return self._peft(**kwargs, adapter_names=adapter_names).logits[:, -1, :]

    def _switch_layers(self, *, enabled: bool) -> None:
        """Turn LoRA layers on or off only when the batch's need changes. peft's
        `disable_adapter()` context walks every module twice per call: on every decode step
        that made base requests slower than adapter requests (benchmarks/inference_cpu.py)."""
        if self._layers_enabled is enabled or self._peft is None:
            return
        tuner = self._peft.base_model
        tuner.enable_adapter_layers() if enabled else tuner.disable_adapter_layers()
        self._layers_enabled = enabled

    def load_adapter(self, name: str, path: Path) -> None:
        """Attach a verified PEFT adapter under `name` (the first one wraps the base model)."""
        from peft import PeftModel

        if self._peft is None:
            self._peft = PeftModel.from_pretrained(
                self._models[BASE_INSTANCE], str(path), adapter_name=name, is_trainable=False
            )
        else:
            self._peft.load_adapter(str(path), adapter_name=name, is_trainable=False)
        self._peft.to(self.device)
        serve_in_base_dtype(self._peft, name, self._models[BASE_INSTANCE].dtype)
        lora_fast.forget(self._peft, name)  # a reload under the same name folds afresh
        lora_fast.install(self._peft)
        self._peft.eval()
        self._layers_enabled = None  # new LoRA layers start enabled, older ones may not be
        self.adapters.add(name)
        if self.static is not None:
            self.static.forget_graphs()  # captured before these layers existed
        log.info("adapter %s attached", name)

    def unload_adapter(self, name: str) -> None:
        if self._peft is None or name not in self.adapters:
            return
        lora_fast.forget(self._peft, name)
        self._peft.delete_adapter(name)
        self._layers_enabled = None
        if self.static is not None:
            self.static.forget_graphs()  # they read the deleted adapter's weights
        self.adapters.discard(name)
        if not self.adapters:
            # peft keeps pointing at the deleted adapter as "active"; with none left, take the
            # LoRA layers out entirely so base requests run the plain model again.
            self._models[BASE_INSTANCE] = self._peft.unload()
            self._peft = None
        log.info("adapter %s detached", name)
