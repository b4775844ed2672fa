"""Loss masks: only assistant tokens (and their end-of-turn marker) carry loss."""

from __future__ import annotations

import pytest

from advisor_shared.dataset import Conversation, DatasetError, load_dataset
from advisor_trainer.data.tokenization import IGNORE_INDEX, encode_conversation, encode_dataset
from advisor_trainer.errors import TrainingDataError

pytestmark = pytest.mark.unit
CONVERSATION = Conversation.model_validate(
    {
        "id": "c1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is the application deadline?"},
            {"role": "assistant", "content": "The deadline is 15 March 2027."},
            {"role": "user", "content": "And the fee?"},
            {"role": "assistant", "content": "The fee is EUR 120."},
        ],
    }
)


def _unmasked_text(tokenizer, example) -> str:
    kept = [
        t
        for t, label in zip(example.input_ids, example.labels, strict=True)
        if label != IGNORE_INDEX
    ]
    return tokenizer.decode(kept)


@pytest.fixture(params=["tiny", "embedded"])
def tokenizer(request, tiny_model_dir, embedded_model_dir):
    from transformers import AutoTokenizer

    folder = tiny_model_dir if request.param == "tiny" else embedded_model_dir
    return AutoTokenizer.from_pretrained(folder)


def test_only_assistant_turns_are_unmasked(tokenizer) -> None:
    example = encode_conversation(tokenizer, CONVERSATION, max_seq_len=512, loss_on="assistant")
    assert _unmasked_text(tokenizer, example) == (
        "The deadline is 15 March 2027.<|im_end|>\nThe fee is EUR 120.<|im_end|>\n"
    )
    assert example.labels[0] == IGNORE_INDEX


def test_loss_on_all_tokens_when_asked(tokenizer) -> None:
    example = encode_conversation(tokenizer, CONVERSATION, max_seq_len=512, loss_on="all")
    assert example.labels == example.input_ids


def test_truncation_keeps_masks_aligned(tokenizer) -> None:
    full = encode_conversation(tokenizer, CONVERSATION, max_seq_len=512, loss_on="assistant")
    cut = encode_conversation(
        tokenizer, CONVERSATION, max_seq_len=full.length - 8, loss_on="assistant"
    )
    assert cut.input_ids == full.input_ids[: full.length - 8]
    assert cut.labels == full.labels[: full.length - 8]


def test_no_assistant_token_within_max_seq_len_is_refused(tiny_model_dir) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    with pytest.raises(
        TrainingDataError, match="no conversation has an assistant token within max_seq_len=16"
    ):
        encode_dataset(tokenizer, [CONVERSATION], max_seq_len=16, loss_on="assistant")


def test_dataset_without_assistant_turns_is_refused_with_its_line(tmp_path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"id": "a", "messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "again"}]}\n'
        '{"id": "b", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]}\n'
    )
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert caught.value.problems[0].startswith(f"{path}:1: messages:")
    assert "no assistant turn" in caught.value.problems[1]
