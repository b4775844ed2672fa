"""The KV cache goes to the model under the keyword its forward takes; a model that takes
`past_key_values` must never be handed `cache` (it would silently decode without history)."""

from __future__ import annotations

import pytest

from advisor_inference.engines.hf.runner import cache_keyword

pytestmark = pytest.mark.unit


class NewStyle:
    def forward(self, input_ids=None, attention_mask=None, cache=None, **kwargs):  # noqa: ANN001
        return None


class OldStyle:
    def forward(self, input_ids=None, attention_mask=None, past_key_values=None, **kwargs):  # noqa: ANN001
        return None


def test_each_model_gets_the_cache_under_its_own_keyword() -> None:
    assert cache_keyword(NewStyle()) == "cache"
    assert cache_keyword(OldStyle()) == "past_key_values"


def test_the_installed_mistral_takes_one_of_them(tiny_model_dir) -> None:
    from transformers import MistralForCausalLM

    model = MistralForCausalLM.from_pretrained(tiny_model_dir)
    keyword = cache_keyword(model)
    import inspect

    assert keyword in inspect.signature(type(model).forward).parameters
