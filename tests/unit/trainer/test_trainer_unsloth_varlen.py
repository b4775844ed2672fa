"""The switch to Unsloth's lean flash varlen path, against a stand-in for Unsloth's dispatch
module (Unsloth and the flash kernels need CUDA; the GPU benchmark checks the real one)."""

from __future__ import annotations

import sys
import types

import pytest

from advisor_trainer.backends import unsloth_varlen

pytestmark = pytest.mark.unit
torch = pytest.importorskip("torch")


class Lean:
    calls: list[tuple] = []

    @classmethod
    def apply(cls, *args):  # type: ignore[no-untyped-def]
        cls.calls.append(args)
        return "out"


@pytest.fixture
def dispatch(monkeypatch):  # type: ignore[no-untyped-def]
    module = types.ModuleType("unsloth.utils.attention_dispatch")
    module._TORCH_VARLEN_ATTN = None
    module._LEAN_VARLEN = False
    module._LeanFlashVarlen = Lean
    module._torch_varlen_takes = lambda *a: True
    utils = types.ModuleType("unsloth.utils")
    utils.attention_dispatch = module
    monkeypatch.setitem(sys.modules, "unsloth", types.ModuleType("unsloth"))
    monkeypatch.setitem(sys.modules, "unsloth.utils", utils)
    monkeypatch.setitem(sys.modules, "unsloth.utils.attention_dispatch", module)
    monkeypatch.setattr(torch.backends.cuda, "is_flash_attention_available", lambda: True)
    Lean.calls = []
    return module


def test_the_lean_path_stands_in_for_varlen_attn(dispatch) -> None:
    assert unsloth_varlen.enable()
    assert dispatch._LEAN_VARLEN and not dispatch._varlen_can_use_cudnn(None)
    out = dispatch._TORCH_VARLEN_ATTN(
        "q", "k", "v", "cu", "cu", 9, 9, scale=0.5, window_size=(-1, 0), enable_gqa=True
    )
    assert out == "out"
    # q, k, v, cu_seqlens, max_seqlen, causal, scale, window left, window right
    assert Lean.calls == [("q", "k", "v", "cu", 9, True, 0.5, -1, 0)]


def test_nothing_changes_where_unsloth_has_it_or_a_piece_is_missing(dispatch) -> None:
    own = object()
    dispatch._TORCH_VARLEN_ATTN = own
    assert unsloth_varlen.enable() and dispatch._TORCH_VARLEN_ATTN is own
    dispatch._TORCH_VARLEN_ATTN = None
    del dispatch._LeanFlashVarlen
    assert not unsloth_varlen.enable()
    assert dispatch._TORCH_VARLEN_ATTN is None and not dispatch._LEAN_VARLEN
