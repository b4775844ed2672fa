"""The adapter's tensors in one flat buffer, so the optimizer updates them in one call per step.

bitsandbytes' 8-bit AdamW updates one tensor at a time and waits for the device after each
(`sync_gpu` inside the loop of `Optimizer8bit.step`, bitsandbytes 0.50): LoRA on the seven
projections of a 32-layer model is 448 tensors, so 448 launches and 448 waits a step, with the
GPU idle between them. Here the trainable tensors become views of one buffer and their
gradients views of another, and the optimizer is given the buffer: one update, one wait.

The update is the same to the bit. AdamW is elementwise, and the 8-bit optimizer quantises its
state in independent blocks of 256 elements, so every tensor starts on a block boundary of
the buffer (zeros fill the gaps; a zero gradient leaves a zero weight and zero moments, so the
padding never changes a block's scale). Tensors under bitsandbytes' `min_8bit_size` keep their
own 32-bit state there, so they stay out of the buffer.

Gradients are accumulated in place into the buffer by autograd (it adds into a `.grad` that is
already there), so `zero_grad()` zeroes the buffer and never sets gradients to None; a step
after anything else replaced a gradient (`model.zero_grad(set_to_none=True)`), or a tensor's
data (a cast, a move), is refused rather than run on stale zeros or on a copy the model no
longer uses. `state_dict()` and `load_state_dict()` speak per tensor, in
exactly the form the optimizer run per tensor writes, so bundles do not depend on the layout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# bitsandbytes' blockwise optimizers quantise state in blocks of this many elements.
BLOCK = 256
# State entries of bitsandbytes' 8-bit optimizers that hold one value per block of a tensor,
# and those shared by all tensors (the quantisation maps) or scalars.
PER_BLOCK_STATE = frozenset({"absmax1", "absmax2"})
SHARED_STATE = frozenset({"step", "qmap1", "qmap2", "unorm_vec"})


@dataclass(frozen=True)
class _Slot:
    """Where one trainable tensor lives in the buffer."""

    index: int  # position in the caller's parameter list
    offset: int
    numel: int
    shape: tuple[int, ...]

    @property
    def blocks(self) -> slice:
        return slice(self.offset // BLOCK, self.offset // BLOCK + -(-self.numel // BLOCK))

    @property
    def elements(self) -> slice:
        return slice(self.offset, self.offset + self.numel)


class FlatOptimizer:
    """An optimizer over `params` that sees the large ones as one flat tensor.

    `make(tensors)` builds the wrapped optimizer for the list it is given. The wrapper offers
    what a training loop and `torch.amp.GradScaler` use: `param_groups`, `step()`,
    `zero_grad()`, `state_dict()`, `load_state_dict()`."""

    def __init__(
        self, make: Callable[[list[Any]], Any], params: Sequence[Any], *, min_numel: int = 0
    ):
        import torch

        params = list(params)
        flat_indices = _flattenable(params, min_numel)
        self._params = params
        self._slots: list[_Slot] = []
        offset = 0
        for index in flat_indices:
            p = params[index]
            self._slots.append(_Slot(index, offset, p.numel(), tuple(p.shape)))
            offset += -(-p.numel() // BLOCK) * BLOCK
        flattened = set(flat_indices)
        self._separate = [i for i in range(len(params)) if i not in flattened]
        inner_params: list[Any] = []
        self._flat: Any = None
        if self._slots:
            first = params[self._slots[0].index]
            self._flat = torch.zeros(offset, dtype=first.dtype, device=first.device)
            self._flat.grad = torch.zeros_like(self._flat)
            for slot in self._slots:
                p = params[slot.index]
                view = self._flat[slot.elements]
                view.copy_(p.detach().reshape(-1))
                p.data = view.view(slot.shape)
            inner_params.append(self._flat)
        inner_params += [params[i] for i in self._separate]
        self._grad_views = [self._flat.grad[s.elements].view(s.shape) for s in self._slots]
        self._addresses = [params[s.index].data_ptr() for s in self._slots]
        self.inner = make(inner_params)
        self._attach_gradients()

    @property
    def flat_numel(self) -> int:
        """Elements in the buffer (padding included); 0 when nothing was flattened."""
        return 0 if self._flat is None else int(self._flat.numel())

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.inner.param_groups  # type: ignore[no-any-return]

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        self._check_in_place()
        return self.inner.step(closure)

    def _check_in_place(self) -> None:
        """Refuse to step when a tensor or its gradient left the buffers: the update would go
        to the buffer while the model trains another copy, or read stale zeros."""
        for slot, view, address in zip(self._slots, self._grad_views, self._addresses, strict=True):
            p = self._params[slot.index]
            if p.data_ptr() != address:
                raise RuntimeError(
                    f"parameter {slot.index} no longer lives in the flat buffer (its data was "
                    "replaced after the optimizer was built); build the optimizer last"
                )
            if p.grad is not view:
                raise RuntimeError(
                    f"parameter {slot.index}'s gradient was replaced outside the flat buffer "
                    "(zero_grad(set_to_none=True) on the model?); call this optimizer's "
                    "zero_grad() before the backward passes of a step"
                )

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero every gradient. The flat buffer's are zeroed in place whatever `set_to_none`
        says (autograd must find them to accumulate into); the separate ones follow it."""
        if self._flat is not None:
            self._flat.grad.zero_()
            self._attach_gradients()
        for i in self._separate:
            p = self._params[i]
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def _attach_gradients(self) -> None:
        for slot, view in zip(self._slots, self._grad_views, strict=True):
            self._params[slot.index].grad = view

    # --- state, per tensor --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimizer's state as if it had run over `params` one tensor at a time."""
        inner = self.inner.state_dict()
        (group,) = inner["param_groups"]
        states: dict[int, Any] = {}
        if self._slots and 0 in inner["state"]:
            for slot in self._slots:
                states[slot.index] = _split(inner["state"][0], slot, self.flat_numel)
        first_separate = 1 if self._slots else 0
        for position, index in enumerate(self._separate, start=first_separate):
            if position in inner["state"]:
                states[index] = inner["state"][position]
        return {
            "state": dict(sorted(states.items())),
            "param_groups": [{**group, "params": list(range(len(self._params)))}],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a per-tensor state (from `state_dict()` here, or from the optimizer run per
        tensor over the same parameters)."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self._params):
            raise ValueError(
                f"optimizer state for {sum(len(g['params']) for g in groups)} tensors in "
                f"{len(groups)} groups; this optimizer has {len(self._params)} in 1"
            )
        by_index = dict(zip(groups[0]["params"], range(len(self._params)), strict=True))
        saved = {by_index[key]: value for key, value in state_dict["state"].items()}
        inner_state: dict[int, Any] = {}
        if self._slots and all(slot.index in saved for slot in self._slots):
            entries = [saved[slot.index] for slot in self._slots]
            inner_state[0] = _merge(entries, self._slots, self.flat_numel)
        elif self._slots and any(slot.index in saved for slot in self._slots):
            raise ValueError("optimizer state holds some of the flattened tensors but not all")
        first_separate = 1 if self._slots else 0
        for position, index in enumerate(self._separate, start=first_separate):
            if index in saved:
                inner_state[position] = saved[index]
        inner_groups = [{**groups[0], "params": list(range(len(self.param_groups[0]["params"])))}]
        self.inner.load_state_dict({"state": inner_state, "param_groups": inner_groups})


def _flattenable(params: list[Any], min_numel: int) -> list[int]:
    """Indices of the tensors that go into the buffer: large enough, and of the dtype and device
    of the first such tensor (one buffer holds one dtype)."""
    large = [i for i, p in enumerate(params) if p.numel() >= max(min_numel, 1)]
    if not large:
        return []
    first = params[large[0]]
    return [i for i in large if (params[i].dtype, params[i].device) == (first.dtype, first.device)]


def _split(entry: Any, slot: _Slot, flat_numel: int) -> Any:
    """One tensor's share of the flat tensor's state entry (nested dicts walked)."""
    if isinstance(entry, dict):
        return {key: _split_value(key, value, slot, flat_numel) for key, value in entry.items()}
    return entry


def _split_value(key: str, value: Any, slot: _Slot, flat_numel: int) -> Any:
    import torch

    if isinstance(value, dict):
        return _split(value, slot, flat_numel)
    if not isinstance(value, torch.Tensor) or key in SHARED_STATE:
        return value.clone() if isinstance(value, torch.Tensor) else value
    if key in PER_BLOCK_STATE:
        return value[slot.blocks].clone()
    if value.numel() == flat_numel:
        return value.reshape(-1)[slot.elements].view(slot.shape).clone()
    raise ValueError(f"optimizer state {key!r} of {value.numel()} values is not per element")


def _merge(entries: list[Any], slots: list[_Slot], flat_numel: int) -> Any:
    """The flat tensor's state entry from the per-tensor entries of `slots`."""
    first = entries[0]
    if not isinstance(first, dict):
        return first
    return {key: _merge_value(key, [e[key] for e in entries], slots, flat_numel) for key in first}


def _merge_value(key: str, values: list[Any], slots: list[_Slot], flat_numel: int) -> Any:
    import torch

    first = values[0]
    if isinstance(first, dict):
        return _merge(values, slots, flat_numel)
    if not isinstance(first, torch.Tensor) or key in SHARED_STATE:
        return first
    per_block = key in PER_BLOCK_STATE
    merged = first.new_zeros(flat_numel // BLOCK if per_block else flat_numel)
    for slot, value in zip(slots, values, strict=True):
        where = slot.blocks if per_block else slot.elements
        expected = where.stop - where.start
        if value.numel() != expected:
            raise ValueError(
                f"optimizer state {key!r} of tensor {slot.index} has {value.numel()} values; "
                f"its shape {list(slot.shape)} needs {expected}"
            )
        merged[where] = value.reshape(-1)
    return merged
